using System.Buffers.Binary;
using System.Text.Json.Nodes;
using EdgeShortcut.Core;

namespace EdgeShortcut.Experiments;

/// <summary>
/// A generated non-text token stream: records <c>a + b = c ;</c> with a, b uniform in 0..p-1 and
/// c = (a + b) mod p. Ids 0..p-1 are numbers, p is '+', p+1 is '=', p+2 is ';' (vocab p + 3).
/// Only a and b carry information, so the best possible mean NLL is known exactly:
/// 2 ln p nats per 6-token record (<see cref="EntropyFloorNats"/>), a yardstick for the trained loss.
/// </summary>
/// <param name="Modulus">p (2..65533).</param>
/// <param name="Tokens">Stream length in tokens (whole records; the last one may be cut).</param>
/// <param name="Seed">Seed of the record sampler.</param>
public sealed record SymbolicStreamSpec(int Modulus, int Tokens, int Seed)
{
    /// <summary>Tokens per record: a, '+', b, '=', c, ';'.</summary>
    public const int RecordLength = 6;

    /// <summary>p + 3.</summary>
    public int VocabSize => Modulus + 3;

    /// <summary>Entropy rate of the stream in nats/token: 2 ln p / 6.</summary>
    public double EntropyFloorNats => 2 * Math.Log(Modulus) / RecordLength;

    /// <summary>Reads <c>{"kind": "modular-sum", "modulus": p, "tokens": N, "seed": s}</c>.</summary>
    public static SymbolicStreamSpec FromJson(JsonObject g, string specPath)
    {
        string kind = g["kind"]?.GetValue<string>() ?? "";
        if (kind != "modular-sum") throw new SpecException(specPath, $"generate.kind '{kind}' is unknown (supported: modular-sum)");
        int p = g["modulus"]?.GetValue<int>() ?? throw new SpecException(specPath, "generate.modulus is required");
        int n = g["tokens"]?.GetValue<int>() ?? throw new SpecException(specPath, "generate.tokens is required");
        if (p is < 2 or > 65533) throw new SpecException(specPath, $"generate.modulus must be in 2..65533 (got {p})");
        if (n < RecordLength) throw new SpecException(specPath, $"generate.tokens must be >= {RecordLength} (got {n})");
        return new SymbolicStreamSpec(p, n, g["seed"]?.GetValue<int>() ?? 0);
    }

    /// <summary>The stream's ids (deterministic in the seed).</summary>
    public ushort[] Generate()
    {
        var rng = new Random(Seed);
        var ids = new ushort[Tokens];
        int a = 0, b = 0;
        for (int i = 0; i < Tokens; i++)
        {
            int k = i % RecordLength;
            if (k == 0) { a = rng.Next(Modulus); b = rng.Next(Modulus); }
            ids[i] = (ushort)(k switch { 0 => a, 1 => Modulus, 2 => b, 3 => Modulus + 1, 4 => (a + b) % Modulus, _ => Modulus + 2 });
        }
        return ids;
    }

    /// <summary>Writes the stream as little-endian uint16 ids (the trainer's <c>--token-vocab</c> format).</summary>
    public void WriteTokenFile(string path)
    {
        var ids = Generate();
        var bytes = new byte[ids.Length * 2];
        for (int i = 0; i < ids.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), ids[i]);
        AtomicFile.WriteAllBytes(path, bytes);
    }
}
