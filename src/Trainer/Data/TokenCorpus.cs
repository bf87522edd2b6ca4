using System.Buffers.Binary;
using EdgeShortcut.Core;

namespace EdgeShortcut.Trainer.Data;

/// <summary>
/// A token stream loaded from disk: a UTF-8 text file under the byte tokenizer (id = byte, V = 256)
/// or a pre-tokenized file of little-endian uint16 ids with a declared vocab size. Ids are kept as
/// <c>ushort</c> (both kinds fit), so a 1 GB text costs 2 GB, not 8.
/// </summary>
public sealed class TokenCorpus
{
    /// <summary>The ids, in file order.</summary>
    public ushort[] Tokens { get; }

    /// <summary>How the ids were produced.</summary>
    public TokenizerSpec Tokenizer { get; }

    /// <summary>Where the ids came from (for messages).</summary>
    public string Source { get; }

    /// <summary>Number of tokens.</summary>
    public int Length => Tokens.Length;

    /// <summary>Wraps ids already in memory (validated against the tokenizer's vocab).</summary>
    public TokenCorpus(ushort[] tokens, TokenizerSpec tokenizer, string source)
    {
        tokenizer.Validate();
        for (int i = 0; i < tokens.Length; i++)
            if (tokens[i] >= tokenizer.VocabSize)
                throw new CorpusException(source, $"token {tokens[i]} at index {i} is outside the declared vocab (0..{tokenizer.VocabSize - 1})");
        Tokens = tokens;
        Tokenizer = tokenizer;
        Source = source;
    }

    /// <summary>Loads <paramref name="path"/> with <paramref name="tokenizer"/>: bytes for <c>byte</c>,
    /// little-endian uint16 pairs for <c>token-file</c>. Throws <see cref="CorpusException"/> for a missing or
    /// empty file, an odd-length token file, or ids outside the vocab.</summary>
    public static TokenCorpus Load(string path, TokenizerSpec tokenizer)
    {
        if (!File.Exists(path)) throw new CorpusException(path, "file not found");
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0) throw new CorpusException(path, "file is empty");
        if (tokenizer.Kind == TokenizerSpec.ByteKind)
        {
            var ids = new ushort[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
            return new TokenCorpus(ids, tokenizer, path);
        }
        if (bytes.Length % 2 != 0) throw new CorpusException(path, $"a uint16 token file has an even byte count, this one has {bytes.Length}");
        var tokens = new ushort[bytes.Length / 2];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(2 * i));
        return new TokenCorpus(tokens, tokenizer, path);
    }

    /// <summary>The deterministic split: the first 90% trains, the last 10% validates
    /// (validation gets <c>floor(N / 10)</c> tokens).</summary>
    public (TokenCorpus Train, TokenCorpus Validation) SplitLastTenth()
    {
        int valStart = Length - Length / 10;
        return (Slice(0, valStart, $"{Source} [train 0..{valStart})"), Slice(valStart, Length, $"{Source} [validation {valStart}..{Length})"));
    }

    /// <summary>Throws unless at least one window of <paramref name="contextLength"/> inputs plus its
    /// shifted target fits (<c>contextLength + 1</c> tokens).</summary>
    public TokenCorpus RequireWindow(int contextLength, string role)
    {
        if (Length < contextLength + 1)
            throw new CorpusException(Source, $"the {role} data has {Length} tokens, shorter than one context window ({contextLength} inputs + 1 target = {contextLength + 1} tokens)");
        return this;
    }

    private TokenCorpus Slice(int begin, int end, string name) => new(Tokens[begin..end], Tokenizer, name);
}
