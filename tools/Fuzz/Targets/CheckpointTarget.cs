using System.Buffers.Binary;
using System.Text;
using EdgeShortcut.Core;

namespace EdgeShortcut.Fuzz.Targets;

/// <summary>A checkpoint directory (config.json + model.safetensors) read by <c>Checkpoint.Load</c>, the
/// path of eval, sample, quantize and resume. Mutations: the config JSON, the safetensors header JSON
/// rewritten with a consistent length, the header length itself, the data section, and raw bytes.</summary>
public sealed class CheckpointTarget : FuzzTarget
{
    /// <inheritdoc />
    public override string Name => "checkpoint";
    /// <inheritdoc />
    public override IReadOnlyList<Type> Expected { get; } = [typeof(CheckpointFormatException)];
    /// <inheritdoc />
    public override IReadOnlyList<byte[]> Seeds { get; } = [.. FuzzSeeds.Configs.Select((c, i) => FuzzSeeds.Checkpoint(c, i + 1))];

    /// <inheritdoc />
    public override byte[] Mutate(byte[] seed, Random r)
    {
        var (config, weights) = Split(seed);
        switch (r.Next(20))
        {
            case < 6: config = JsonMutations.Mutate(config, r); break;
            case < 13: weights = MutateHeader(weights, r); break;
            case < 14:   // the header length, off by a little (into the padding, into the data)
                {
                    weights = (byte[])weights.Clone();
                    if (weights.Length >= 8)
                    {
                        long len = BinaryPrimitives.ReadInt64LittleEndian(weights);
                        BinaryPrimitives.WriteInt64LittleEndian(weights, len + r.Next(-9, 10));
                    }
                    break;
                }
            case < 16:   // the data section: non-finite or extreme floats, flips
                weights = ByteMutations.Mutate(weights, r);
                break;
            case < 19: weights = ByteMutations.Mutate(weights, r); break;
            default: return ByteMutations.Mutate(seed, r);
        }
        return [.. BitConverter.GetBytes(config.Length), .. config, .. weights];
    }

    /// <inheritdoc />
    public override void Load(byte[] input, string scratch)
    {
        string dir = Path.Combine(scratch, "checkpoint");
        Directory.CreateDirectory(dir);
        var (config, weights) = Split(input);
        File.WriteAllBytes(Path.Combine(dir, Checkpoint.ConfigFile), config);
        File.WriteAllBytes(Path.Combine(dir, Checkpoint.WeightsFile), weights);
        var (_, tensors) = Checkpoint.Load(dir);
        if (tensors.Count == 0) throw new InvalidOperationException("a checkpoint loaded without tensors");
    }

    /// <summary>The header JSON mutated and the file rebuilt with the right length and padding.</summary>
    private static byte[] MutateHeader(byte[] file, Random r)
    {
        if (file.Length < 8) return ByteMutations.Mutate(file, r);
        long len = BinaryPrimitives.ReadInt64LittleEndian(file);
        if (len < 0 || len > file.Length - 8) return ByteMutations.Mutate(file, r);
        byte[] header = JsonMutations.Mutate(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(file, 8, (int)len).TrimEnd()), r);
        int pad = r.Next(3) == 0 ? r.Next(0, 9) : (8 - header.Length % 8) % 8;
        var result = new byte[8 + header.Length + pad + (file.Length - 8 - (int)len)];
        BinaryPrimitives.WriteInt64LittleEndian(result, header.Length + pad);
        header.CopyTo(result, 8);
        result.AsSpan(8 + header.Length, pad).Fill((byte)' ');
        file.AsSpan(8 + (int)len).CopyTo(result.AsSpan(8 + header.Length + pad));
        return result;
    }

    private static (byte[] Config, byte[] Weights) Split(byte[] input)
    {
        if (input.Length < 4) return (input, []);
        int n = BinaryPrimitives.ReadInt32LittleEndian(input);
        if (n < 0 || n > input.Length - 4) return (input[4..], []);
        return (input[4..(4 + n)], input[(4 + n)..]);
    }
}
