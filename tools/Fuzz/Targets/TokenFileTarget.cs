using System.Buffers.Binary;
using EdgeShortcut.Trainer.Data;

namespace EdgeShortcut.Fuzz.Targets;

/// <summary>A corpus file read by <c>TokenCorpus.Load</c> (training and evaluation data). An input is
/// <c>[kind byte][u16 LE vocab][u8 context][file bytes]</c>: the tokenizer and window come from a valid
/// config (the product validates those first), the file is hostile.</summary>
public sealed class TokenFileTarget : FuzzTarget
{
    /// <inheritdoc />
    public override string Name => "tokens";
    /// <inheritdoc />
    public override IReadOnlyList<Type> Expected { get; } = [typeof(CorpusException)];
    /// <inheritdoc />
    public override IReadOnlyList<byte[]> Seeds { get; } = MakeSeeds();

    private static byte[][] MakeSeeds()
    {
        var r = new Random(3);
        byte[] text = System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("ROMEO: naïve über text\n", 8)));
        var ids = new byte[400];
        for (int i = 0; i < ids.Length; i += 2) BinaryPrimitives.WriteUInt16LittleEndian(ids.AsSpan(i), (ushort)r.Next(1000));
        return [[0, 0, 1, 16, .. text], [1, 0xE8, 0x03, 16, .. ids]];   // bytes; token-file with vocab 1000
    }

    /// <inheritdoc />
    public override byte[] Mutate(byte[] seed, Random r)
    {
        var m = (byte[])seed.Clone();
        switch (r.Next(6))
        {
            case 0: m[r.Next(1, 4)] = (byte)r.Next(256); return m;   // another vocab or window
            case 1:   // an id at or above the vocab
                if (m.Length > 6) BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(4 + 2 * r.Next((m.Length - 6) / 2)), (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(1)) + r.Next(3)));
                return m;
            default: return [.. m.AsSpan(0, Math.Min(4, m.Length)), .. ByteMutations.Mutate(m.Length > 4 ? m[4..] : [], r)];
        }
    }

    /// <inheritdoc />
    public override void Load(byte[] input, string scratch)
    {
        if (input.Length < 4) input = [.. input, 0, 0, 0, 0];
        bool bytes = input[0] % 2 == 0;
        int vocab = 2 + BinaryPrimitives.ReadUInt16LittleEndian(input.AsSpan(1)) % 65535, context = 1 + input[3] % 64;
        var spec = bytes ? TokenizerSpec.Bytes : new TokenizerSpec(TokenizerSpec.TokenFileKind, vocab);
        string path = Path.Combine(scratch, "corpus.bin");
        File.WriteAllBytes(path, input[4..]);
        var corpus = TokenCorpus.Load(path, spec);
        var (train, validation) = corpus.SplitLastTenth();
        train.RequireWindow(context, "training");
        validation.RequireWindow(context, "validation");
    }
}
