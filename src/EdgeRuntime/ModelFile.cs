using System.Text;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Runtime;

/// <summary>
/// What the runtime needs to know about an EdgeShortcut ONNX file before choosing a backend: the
/// model config, tokenizer and precision from <c>metadata_props</c> (FORMAT.md section 5).
/// </summary>
/// <param name="Path">The model file.</param>
/// <param name="Config">The validated model config.</param>
/// <param name="Tokenizer">The validated tokenizer spec (its vocab equals the model's).</param>
/// <param name="Precision"><c>int8</c> or <c>fp32</c>.</param>
public sealed record ModelFileInfo(string Path, ModelConfig Config, TokenizerSpec Tokenizer, string Precision)
{
    /// <summary>The adaptive-depth threshold the file recommends (metadata <c>edgeshortcut.adaptive_threshold</c>),
    /// used by <see cref="DepthPolicy.Adaptive"/> without a threshold; null = none recorded
    /// (<see cref="DepthPolicy.DefaultThreshold"/> applies).</summary>
    public float? AdaptiveThreshold { get; init; }
}

/// <summary>
/// Reads the metadata of an ONNX file without ONNX Runtime and without loading the weights: the
/// top-level ModelProto fields are walked and everything except <c>metadata_props</c> (field 14)
/// is skipped by length, so opening a model costs a few small reads before the backend maps it.
/// The values are validated by Core's <see cref="OnnxMetadata"/>. Every problem becomes a
/// <see cref="CheckpointFormatException"/> naming the file.
/// </summary>
public static class ModelFile
{
    private const int GraphField = 7, MetadataField = 14;

    /// <summary>Reads and validates the EdgeShortcut metadata of <paramref name="path"/>.</summary>
    public static ModelFileInfo Read(string path)
    {
        if (!File.Exists(path)) throw new CheckpointFormatException(path, "model file not found");
        var (props, hasGraph) = ReadMetadataProps(path);
        if (!hasGraph) throw new CheckpointFormatException(path, "not an ONNX model: it has no graph");
        return FromMetadata(props, path);
    }

    /// <summary>Validates already-read <c>metadata_props</c> of the model at <paramref name="path"/> (also the
    /// name used in errors): the one place that turns metadata into a <see cref="ModelFileInfo"/>.</summary>
    internal static ModelFileInfo FromMetadata(IReadOnlyDictionary<string, string> props, string path)
    {
        var meta = OnnxMetadata.Read(props, path);
        if (meta.Tokenizer.VocabSize != meta.Model.VocabSize)
            throw new CheckpointFormatException(path, $"tokenizer vocab_size {meta.Tokenizer.VocabSize} differs from model vocab_size {meta.Model.VocabSize}");
        return new ModelFileInfo(path, meta.Model, meta.Tokenizer, meta.Precision) { AdaptiveThreshold = meta.AdaptiveThreshold };
    }

    /// <summary>Walks the top-level protobuf fields; returns metadata_props and whether a graph exists.</summary>
    internal static (Dictionary<string, string> Props, bool HasGraph) ReadMetadataProps(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        long length = stream.Length;
        if (length == 0) throw new CheckpointFormatException(path, "file is empty");
        var props = new Dictionary<string, string>(StringComparer.Ordinal);
        bool hasGraph = false;
        while (stream.Position < length)
        {
            ulong tag = ReadVarint(stream, path);
            int field = (int)(tag >> 3), wire = (int)(tag & 7);
            if (field == 0) throw Corrupt(path, stream.Position, "field number 0");
            switch (wire)
            {
                case 0: ReadVarint(stream, path); break;
                case 1: Skip(stream, 8, length, path); break;
                case 5: Skip(stream, 4, length, path); break;
                case 2:
                    ulong size = ReadVarint(stream, path);
                    if (size > (ulong)(length - stream.Position)) throw Corrupt(path, stream.Position, $"field {field} claims {size} bytes, past the end of the file (truncated?)");
                    if (field == MetadataField)
                    {
                        var bytes = new byte[size];
                        stream.ReadExactly(bytes);
                        var (key, value) = ParseEntry(bytes, path);
                        props[key] = value;
                    }
                    else
                    {
                        if (field == GraphField) hasGraph = true;
                        stream.Seek((long)size, SeekOrigin.Current);
                    }
                    break;
                default: throw Corrupt(path, stream.Position, $"wire type {wire} is not valid in an ONNX ModelProto");
            }
        }
        return (props, hasGraph);
    }

    /// <summary>StringStringEntryProto: key = field 1, value = field 2, both strings.</summary>
    private static (string Key, string Value) ParseEntry(byte[] bytes, string path)
    {
        string key = "", value = "";
        using var s = new MemoryStream(bytes, writable: false);
        while (s.Position < s.Length)
        {
            ulong tag = ReadVarint(s, path);
            if ((tag & 7) != 2) throw Corrupt(path, s.Position, "metadata entry field is not a string");
            ulong size = ReadVarint(s, path);
            if (size > (ulong)(s.Length - s.Position)) throw Corrupt(path, s.Position, "metadata entry is truncated");
            string text = Encoding.UTF8.GetString(bytes, (int)s.Position, (int)size);
            s.Seek((long)size, SeekOrigin.Current);
            if ((tag >> 3) == 1) key = text; else if ((tag >> 3) == 2) value = text;
        }
        return (key, value);
    }

    private static ulong ReadVarint(Stream s, string path)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            int b = s.ReadByte();
            if (b < 0) throw Corrupt(path, s.Position, "truncated varint");
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw Corrupt(path, s.Position, "varint longer than 10 bytes");
    }

    private static void Skip(Stream s, int count, long length, string path)
    {
        if (s.Position + count > length) throw Corrupt(path, s.Position, "truncated fixed-width field");
        s.Seek(count, SeekOrigin.Current);
    }

    private static CheckpointFormatException Corrupt(string path, long offset, string problem) =>
        new(path, $"not a valid ONNX file ({problem} at byte {offset})");
}
