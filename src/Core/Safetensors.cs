using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeShortcut.Core;

/// <summary>
/// Reads and writes the standard safetensors container (fp32 only): an 8-byte little-endian header
/// length N, N bytes of JSON <c>{name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {..}}</c>,
/// then the raw little-endian data. PyTorch and numpy read these files directly.
/// The reader treats the header as hostile: every size and offset is checked before use.
/// </summary>
internal static class Safetensors
{
    /// <summary>Largest header accepted (a real header for thousands of tensors is a few hundred KB).</summary>
    public const int MaxHeaderBytes = 64 << 20;

    /// <summary>Writes tensors (in the given order) atomically to <paramref name="path"/>.</summary>
    public static void Write(string path, IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value))));
        long offset = 0;
        foreach (var t in list)
        {
            if (t.Data.Length != t.ElementCount) throw new ArgumentException($"Tensor '{t.Name}' has {t.Data.Length} values but shape [{string.Join(",", t.Shape)}].");
            long bytes = 4L * t.Data.Length;
            header[t.Name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(t.Shape.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        byte[] json = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - json.Length % 8) % 8;   // align data to 8 bytes, as the reference writer does
        AtomicFile.Write(path, stream =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(json.Length + pad));
            stream.Write(len);
            stream.Write(json);
            for (int i = 0; i < pad; i++) stream.WriteByte((byte)' ');
            foreach (var t in list)
            {
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Safetensors writing needs a little-endian machine.");
                stream.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
            }
        });
    }

    /// <summary>Reads every tensor. Throws <see cref="CheckpointFormatException"/> on a missing,
    /// truncated or malformed file, a non-F32 dtype, or offsets that do not match the shapes.</summary>
    public static Dictionary<string, NamedTensor> Read(string path) => Read(path, out _);

    /// <summary>Reads every tensor and the <c>__metadata__</c> map.</summary>
    public static Dictionary<string, NamedTensor> Read(string path, out Dictionary<string, string> metadata)
    {
        if (!File.Exists(path)) throw new CheckpointFormatException(path, "file not found");
        byte[] file = File.ReadAllBytes(path);
        if (file.Length < 8) throw new CheckpointFormatException(path, $"truncated: {file.Length} bytes, a safetensors file starts with an 8-byte header length");
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLen > MaxHeaderBytes || headerLen > (ulong)(file.Length - 8))
            throw new CheckpointFormatException(path, $"header length {headerLen} exceeds the file ({file.Length} bytes) or the {MaxHeaderBytes}-byte limit: truncated or not a safetensors file");
        JsonObject header;
        try { header = JsonNode.Parse(file.AsSpan(8, (int)headerLen))?.AsObject() ?? throw new JsonException("null header"); }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        { throw new CheckpointFormatException(path, $"header is not a JSON object: {e.Message}", e); }

        long dataStart = 8 + (long)headerLen, dataLen = file.Length - dataStart;
        metadata = [];
        var result = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject meta)
                    foreach (var (k, v) in meta) metadata[k] = v is JsonValue jv && jv.TryGetValue(out string? s) ? s : v?.ToJsonString() ?? "";
                continue;
            }
            result[name] = ReadEntry(path, name, node, file, dataStart, dataLen);
        }
        return result;
    }

    private static NamedTensor ReadEntry(string path, string name, JsonNode? node, byte[] file, long dataStart, long dataLen)
    {
        try
        {
            var o = node!.AsObject();
            string dtype = o["dtype"]!.GetValue<string>();
            if (dtype != "F32") throw new CheckpointFormatException(path, $"tensor '{name}' has dtype {dtype}; only F32 is supported");
            int[] shape = o["shape"]!.AsArray().Select(x => x!.GetValue<int>()).ToArray();
            var offsets = o["data_offsets"]!.AsArray();
            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            long count = 1;
            foreach (int s in shape)
            {
                if (s < 0) throw new CheckpointFormatException(path, $"tensor '{name}' has a negative dimension");
                count *= s;
                if (count > int.MaxValue) throw new CheckpointFormatException(path, $"tensor '{name}' is too large");
            }
            if (begin < 0 || end < begin || end > dataLen)
                throw new CheckpointFormatException(path, $"tensor '{name}' data_offsets [{begin},{end}] lie outside the {dataLen}-byte data section (truncated file?)");
            if (end - begin != 4 * count)
                throw new CheckpointFormatException(path, $"tensor '{name}' has {end - begin} bytes but shape [{string.Join(",", shape)}] needs {4 * count}");
            var data = new float[count];
            var src = file.AsSpan((int)(dataStart + begin), (int)(end - begin));
            if (BitConverter.IsLittleEndian) src.CopyTo(MemoryMarshal.AsBytes(data.AsSpan()));
            else for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(4 * i)..]);
            return new NamedTensor(name, shape, data);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            throw new CheckpointFormatException(path, $"tensor '{name}' has a malformed header entry ({e.Message})", e);
        }
    }
}
