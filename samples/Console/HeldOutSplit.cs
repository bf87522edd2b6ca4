using System.Buffers.Binary;
using EdgeShortcut.Core;

namespace EdgeShortcut.ConsoleSample;

/// <summary>
/// The trainer's held-out split, reimplemented here so the console needs no trainer (FORMAT.md section 6):
/// a data file is a token stream (the byte tokenizer: the file's bytes; a <c>token-file</c> model:
/// little-endian uint16 ids), and the validation split is its last <c>floor(N / 10)</c> tokens.
/// A test pins this against the documented rule.
/// </summary>
internal static class HeldOutSplit
{
    /// <summary>Index of the first held-out token of a stream of <paramref name="length"/> tokens.</summary>
    public static int Start(int length) => length - length / 10;

    /// <summary>The file's token stream under <paramref name="tokenizer"/>; a usage error for a missing file, a
    /// runtime error for a file that is not a stream of this model's ids.</summary>
    public static int[] ReadTokens(string path, TokenizerSpec tokenizer)
    {
        if (!File.Exists(path)) throw new CliUsageException($"--data: file not found: {path}");
        byte[] bytes = File.ReadAllBytes(path);
        if (tokenizer.Kind == TokenizerSpec.ByteKind)
            return [.. bytes.Select(b => (int)b)];
        if (bytes.Length % 2 != 0) throw new CliException($"--data {path}: a uint16 token file has an even byte count, this one has {bytes.Length}");
        var ids = new int[bytes.Length / 2];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(2 * i));
            if (ids[i] >= tokenizer.VocabSize) throw new CliException($"--data {path}: token {ids[i]} at index {i} is outside the model's vocab 0..{tokenizer.VocabSize - 1}");
        }
        return ids;
    }

    /// <summary>The held-out tokens of <paramref name="stream"/>: its last floor(N / 10).</summary>
    public static int[] Of(int[] stream) => stream[Start(stream.Length)..];
}
