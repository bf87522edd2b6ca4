namespace EdgeShortcut.Trainer.Data;

/// <summary>
/// Draws training windows as a pure function of (seed, step, micro-batch, row): no hidden RNG
/// state, so the "data position" of a run is just its step and resume is exact. Each row is a
/// window of T inputs starting at a uniformly drawn offset and its targets shifted by one.
/// </summary>
public sealed class BatchSampler
{
    private readonly ushort[] _tokens;
    private readonly ulong _seed;

    /// <summary>Window length T.</summary>
    public int ContextLength { get; }

    /// <summary>Samples windows of <paramref name="contextLength"/> from <paramref name="corpus"/> (needs T+1 tokens).</summary>
    public BatchSampler(TokenCorpus corpus, int contextLength, long seed)
    {
        corpus.RequireWindow(contextLength, "training");
        _tokens = corpus.Tokens;
        _seed = (ulong)seed;
        ContextLength = contextLength;
    }

    /// <summary>Fills inputs and targets (each <c>[batch * T]</c>, row-major <c>[batch, T]</c>) for one micro-batch.</summary>
    public void Fill(long step, int micro, Span<long> inputs, Span<long> targets)
    {
        int t = ContextLength, batch = inputs.Length / t;
        if (inputs.Length != targets.Length || inputs.Length % t != 0) throw new ArgumentException("inputs and targets must both be [batch, T].");
        ulong offsets = (ulong)(_tokens.Length - t);   // valid starts: 0..N-T-1
        for (int r = 0; r < batch; r++)
        {
            ulong h = Mix(_seed ^ Mix((ulong)step * 0x9E3779B97F4A7C15UL ^ Mix(((ulong)micro << 32) | (uint)r)));
            int start = (int)(h % offsets);
            for (int i = 0; i < t; i++)
            {
                inputs[r * t + i] = _tokens[start + i];
                targets[r * t + i] = _tokens[start + i + 1];
            }
        }
    }

    /// <summary>SplitMix64's finaliser: a bijective 64-bit mix with full avalanche.</summary>
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
