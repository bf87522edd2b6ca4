using System.Text.Json;
using System.Text.Unicode;

namespace EdgeShortcut.Core;

/// <summary>One tensor entry of a safetensors header: <c>name: {dtype, shape, data_offsets: [begin, end]}</c>.</summary>
/// <param name="Name">The tensor name (the header key).</param>
/// <param name="Dtype">The dtype string, e.g. <c>F32</c>.</param>
/// <param name="Shape">Dimensions, each checked to be in 0..int.MaxValue.</param>
/// <param name="Begin">First byte of the data, relative to the data section.</param>
/// <param name="End">One past the last byte.</param>
internal sealed record SafetensorsEntry(string Name, string Dtype, int[] Shape, long Begin, long End);

/// <summary>
/// Parses a safetensors JSON header as hostile input, with the rules of the reference implementation
/// (huggingface/safetensors): valid UTF-8, one JSON object, no key twice, every entry an object with
/// exactly <c>dtype</c> (string), <c>shape</c> (non-negative integers) and <c>data_offsets</c> (two
/// non-negative integers), and <c>__metadata__</c> a map of strings. A streaming reader is used (not a
/// DOM) so that duplicate keys are seen and nothing is parsed lazily outside the error handling.
/// Every violation is a <see cref="CheckpointFormatException"/> naming the file and, where there is
/// one, the tensor.
/// </summary>
internal static class SafetensorsHeader
{
    /// <summary>The reserved key of the free-form string map.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>Parses <paramref name="header"/> (the N header bytes, padding included) of <paramref name="path"/>.</summary>
    public static (List<SafetensorsEntry> Entries, Dictionary<string, string> Metadata) Parse(ReadOnlySpan<byte> header, string path)
    {
        if (!Utf8.IsValid(header)) throw new CheckpointFormatException(path, "the header is not valid UTF-8");
        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? current = null;
        try
        {
            var r = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
            Expect(ref r, JsonTokenType.StartObject, "the header is not a JSON object");
            while (Next(ref r) != JsonTokenType.EndObject)
            {
                current = r.GetString()!;
                if (!seen.Add(current)) throw new CheckpointFormatException(path, $"tensor '{current}' appears more than once in the header");
                if (current == MetadataKey) ReadMetadata(ref r, metadata, path);
                else entries.Add(ReadEntry(ref r, current, path));
                current = null;
            }
            if (r.Read()) throw new JsonException("content after the header object");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)   // InvalidOperation: an escape that is no valid UTF-16
        {
            string where = current is null ? "" : $" (tensor '{current}')";
            throw new CheckpointFormatException(path, $"the header is not valid JSON{where}: {e.Message}", e);
        }
        return (entries, metadata);
    }

    private static SafetensorsEntry ReadEntry(ref Utf8JsonReader r, string name, string path)
    {
        CheckpointFormatException Bad(string problem) => new(path, $"tensor '{name}' {problem}");
        if (Next(ref r) != JsonTokenType.StartObject) throw Bad("is not a JSON object in the header");
        string? dtype = null;
        int[]? shape = null;
        long[]? offsets = null;
        while (Next(ref r) != JsonTokenType.EndObject)
        {
            string field = r.GetString()!;
            switch (field)
            {
                case "dtype" when dtype is null:
                    if (Next(ref r) != JsonTokenType.String) throw Bad("has a dtype that is not a string");
                    dtype = r.GetString()!;
                    break;
                case "shape" when shape is null:
                    shape = ReadIntegers(ref r, int.MaxValue, name, "shape", path).Select(v => (int)v).ToArray();
                    break;
                case "data_offsets" when offsets is null:
                    offsets = ReadIntegers(ref r, long.MaxValue, name, "data_offsets", path);
                    if (offsets.Length != 2) throw Bad($"has {offsets.Length} data_offsets, expected [begin, end]");
                    break;
                default:
                    throw Bad($"has an unexpected or repeated field '{field}' (expected dtype, shape, data_offsets)");
            }
        }
        if (dtype is null || shape is null || offsets is null) throw Bad("lacks one of dtype, shape, data_offsets");
        return new SafetensorsEntry(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] ReadIntegers(ref Utf8JsonReader r, long max, string name, string field, string path)
    {
        if (Next(ref r) != JsonTokenType.StartArray) throw new CheckpointFormatException(path, $"tensor '{name}' has a {field} that is not an array");
        var values = new List<long>();
        while (Next(ref r) != JsonTokenType.EndArray)
        {
            if (r.TokenType != JsonTokenType.Number || !r.TryGetInt64(out long v) || v < 0 || v > max)
                throw new CheckpointFormatException(path, $"tensor '{name}' has a {field} entry that is not an integer in 0..{max}");
            if (values.Count == 64) throw new CheckpointFormatException(path, $"tensor '{name}' has more than 64 {field} entries");
            values.Add(v);
        }
        return values.ToArray();
    }

    private static void ReadMetadata(ref Utf8JsonReader r, Dictionary<string, string> metadata, string path)
    {
        if (Next(ref r) != JsonTokenType.StartObject) throw new CheckpointFormatException(path, $"'{MetadataKey}' is not a JSON object");
        while (Next(ref r) != JsonTokenType.EndObject)
        {
            string key = r.GetString()!;
            if (Next(ref r) != JsonTokenType.String) throw new CheckpointFormatException(path, $"'{MetadataKey}' value '{key}' is not a string");
            if (!metadata.TryAdd(key, r.GetString()!)) throw new CheckpointFormatException(path, $"'{MetadataKey}' key '{key}' appears more than once");
        }
    }

    private static JsonTokenType Next(ref Utf8JsonReader r)
    {
        if (!r.Read()) throw new JsonException("the header ends early");
        return r.TokenType;
    }

    private static void Expect(ref Utf8JsonReader r, JsonTokenType type, string problem)
    {
        if (Next(ref r) != type) throw new JsonException(problem);
    }
}
