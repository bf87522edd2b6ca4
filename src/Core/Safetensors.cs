using System.Buffers.Binary;
using System.Runtime.InteropServices;
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

    /// <summary>Reads every tensor and the <c>__metadata__</c> map. The file must be exactly what the
    /// reference implementation accepts: a header of <see cref="SafetensorsHeader"/>'s rules whose
    /// tensors tile the data section from byte 0 to its last byte, in offset order, without gap,
    /// overlap or trailing bytes, each with as many bytes as its dtype and shape imply.</summary>
    public static Dictionary<string, NamedTensor> Read(string path, out Dictionary<string, string> metadata)
    {
        if (!File.Exists(path)) throw new CheckpointFormatException(path, "file not found");
        byte[] file = File.ReadAllBytes(path);
        if (file.Length < 8) throw new CheckpointFormatException(path, $"truncated: {file.Length} bytes, a safetensors file starts with an 8-byte header length");
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLen > MaxHeaderBytes || headerLen > (ulong)(file.Length - 8))
            throw new CheckpointFormatException(path, $"header length {headerLen} exceeds the file ({file.Length} bytes) or the {MaxHeaderBytes}-byte limit: truncated or not a safetensors file");
        var (entries, meta) = SafetensorsHeader.Parse(file.AsSpan(8, (int)headerLen), path);
        metadata = meta;

        long dataStart = 8 + (long)headerLen, dataLen = file.Length - dataStart;
        long expectedBegin = 0;
        var result = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Dtype != "F32") throw new CheckpointFormatException(path, $"tensor '{e.Name}' has dtype {e.Dtype}; only F32 is supported");
            long count = 1;
            foreach (int s in e.Shape)
            {
                count *= s;
                if (count > Array.MaxLength / 4) throw new CheckpointFormatException(path, $"tensor '{e.Name}' shape [{string.Join(",", e.Shape)}] is too large");
            }
            if (e.End < e.Begin) throw new CheckpointFormatException(path, $"tensor '{e.Name}' data_offsets [{e.Begin},{e.End}] end before they begin");
            if (e.Begin != expectedBegin)
                throw new CheckpointFormatException(path, $"tensor '{e.Name}' data_offsets [{e.Begin},{e.End}] {(e.Begin < expectedBegin ? "overlap the previous tensor" : "leave a gap after the previous tensor")} (expected it to begin at {expectedBegin})");
            if (e.End - e.Begin != 4 * count)
                throw new CheckpointFormatException(path, $"tensor '{e.Name}' has {e.End - e.Begin} bytes but dtype F32 and shape [{string.Join(",", e.Shape)}] needs {4 * count}");
            if (e.End > dataLen)
                throw new CheckpointFormatException(path, $"tensor '{e.Name}' data_offsets [{e.Begin},{e.End}] lie outside the {dataLen}-byte data section (truncated file?)");
            expectedBegin = e.End;
            var data = new float[count];
            var src = file.AsSpan((int)(dataStart + e.Begin), (int)(e.End - e.Begin));
            if (BitConverter.IsLittleEndian) src.CopyTo(MemoryMarshal.AsBytes(data.AsSpan()));
            else for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(4 * i)..]);
            result.Add(e.Name, new NamedTensor(e.Name, e.Shape, data));
        }
        if (expectedBegin != dataLen)
            throw new CheckpointFormatException(path, $"{dataLen - expectedBegin} trailing bytes after the last tensor: the data section has {dataLen} bytes, the tensors cover {expectedBegin} (a wrong header length shifts every tensor)");
        return result;
    }
}
