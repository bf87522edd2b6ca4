using EdgeShortcut.Core;
using System.Runtime.CompilerServices;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// One ordinary block of a prefill chunk (T &gt;= <see cref="TokenParallel.MinSharedTokens"/> tokens at p0..p0+T-1), the
/// same arithmetic per token as <see cref="TransformerBlock"/> and <see cref="ShortcutAttention"/> run op by op, in stages:
/// <code>
/// A  per token:  x_t -> LN1 -> qkv_t; cache[p0 + t] = (k_t, v_t); q_t *= 1/sqrt(hd)
/// B  attention:  o_t = softmax(q_t . K[..p0+t]) V                      (needs every key of A: a hand-off)
/// C  per token:  x_t += Proj(o_t); x_t += Mlp(LN2(x_t))
/// D  at a tap:   z_t = F_j(LN_j(x_t)); entries (p0 + t, j) = Lin_kv(z_t)
/// </code>
/// Stages A, C and D are per token, so each thread runs a whole stage over its own tokens (<see cref="TokenParallel.RunTokens"/>:
/// the caller the first half, the helper the rest) with no hand-off between its ops: three or four hand-offs per block
/// instead of nine. Why: a hand-off costs a few microseconds (more when the two vCPUs are on different core complexes,
/// ManagedBench <c>handoff</c>), and the ops of a small model take tens of microseconds. Within a stage the two threads may
/// be at different ops; each scratch buffer keeps one row width for the whole stage, so their rows never overlap.
/// <para>The last block of a pass is often read only by the exit head, which reads the last token's row
/// (<see cref="PrefillRows"/>): then stage A runs for every token (the cache needs their keys and values), and B and C
/// for the last token alone, as a decode step runs them, or not at all. A 256-token prefill of a 12-block model skips
/// about a sixteenth of its multiply-adds, as an engine that computes only the rows it returns does.</para>
/// </summary>
internal static unsafe class PrefillBlock
{
    private struct Job
    {
        // Lives on the caller's stack frame until Run returns (the GC keeps reporting these references).
        public BlockWeights Block;
        public FeatureWeights? Feature;
        public ShortcutWeights? Shortcut;
        public RunState S;
        public LayerCache Cache;
        public int T, P0, Heads, Tap, TapCount;
        public float Eps;
    }

    /// <summary>Block <paramref name="index"/> (0-based) on the first T rows of <see cref="RunState.X"/>, with the tap's
    /// shortcut entries when it is one; <paramref name="keyMask"/> as in <see cref="TransformerBlock.Attention(BlockWeights, RunState, int, int, int, int, float, ReadOnlySpan{float})"/>.
    /// With <paramref name="rows"/> other than <see cref="PrefillRows.All"/> (not at a tap, whose features read every row), only
    /// the cache and the rows it names are computed; the other rows of X are left as they were.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TProbe>(ManagedWeights w, RunState s, int index, int p0, int T, ReadOnlySpan<float> keyMask, ref TProbe probe,
        PrefillRows rows = PrefillRows.All)
        where TProbe : struct, IForwardProbe
    {
        if (T < TokenParallel.MinSharedTokens) throw new ArgumentOutOfRangeException(nameof(T), T, $"Prefill stages need {TokenParallel.MinSharedTokens}+ tokens.");
        var c = w.Config;
        int d = c.Dim, tap = w.TapOfBlock[index];
        if (rows != PrefillRows.All && tap >= 0) throw new ArgumentException($"Block {index} feeds tap {tap}, whose features need every row.", nameof(rows));
        var job = new Job
        {
            Block = w.Blocks[index], Feature = tap >= 0 ? w.Features[tap] : null, Shortcut = w.Shortcut, S = s, Cache = s.Caches[index],
            T = T, P0 = p0, Heads = c.Heads, Tap = tap, TapCount = c.TapCount, Eps = c.LayerNormEps,
        };
        void* context = Unsafe.AsPointer(ref job);
        probe.Begin(ForwardPhase.BlockAttention);
        job.Cache.MarkWritten();
        TokenParallel.RunTokens(s.Parallel, &AttentionInput, context, T);
        if (rows != PrefillRows.All)
        {
            if (rows == PrefillRows.Last) LastToken(job.Block, s, index, p0, T, c.Heads, c.LayerNormEps, keyMask, ref probe);
            else probe.End(ForwardPhase.BlockAttention);
            return;
        }
        ParallelAttention.Run(s.Parallel, s.Qkv.AsSpan(0, T * 3 * d), job.Cache, s.Attention.AsSpan(0, T * d), keyMask, T, c.Heads, p0);
        probe.End(ForwardPhase.BlockAttention);
        probe.Begin(ForwardPhase.BlockMlp);
        TokenParallel.RunTokens(s.Parallel, &ProjectionAndMlp, context, T);
        probe.End(ForwardPhase.BlockMlp);
        if (tap < 0) return;
        probe.Begin(ForwardPhase.FeatureMlp);   // in a prefill the feature MLP and the entries are one stage
        s.ShortcutCache.MarkWritten();
        TokenParallel.RunTokens(s.Parallel, &ShortcutEntries, context, T);
        probe.End(ForwardPhase.FeatureMlp);
    }

    /// <summary>Stages B and C for the last token (row T-1) alone, once stage A has run for all T: the ops of a decode step
    /// at position p0 + T - 1 (<see cref="TransformerBlock"/>), which give a prefill's bits (both read the same cache).
    /// Called inside the <see cref="ForwardPhase.BlockAttention"/> phase; ends it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LastToken<TProbe>(BlockWeights b, RunState s, int index, int p0, int T, int heads, float eps,
        ReadOnlySpan<float> keyMask, ref TProbe probe)
        where TProbe : struct, IForwardProbe
    {
        int d = b.AttnProj.Rows;
        var x = s.X.AsSpan((T - 1) * d, d);
        TransformerBlock.AttendAndProject(b, s, s.Caches[index], s.Qkv.AsSpan((T - 1) * 3 * d, 3 * d), x, p0 + T - 1, 1, heads, keyMask);
        probe.End(ForwardPhase.BlockAttention);
        probe.Begin(ForwardPhase.BlockMlp);
        TransformerBlock.Mlp(b.Ln2, b.Fc, b.Proj, s, x, 1, eps);
        probe.End(ForwardPhase.BlockMlp);
    }

    /// <summary>Stage A for tokens t0..t1-1: LN1 (and the qkv input's quantization), qkv, the cache append and the query scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AttentionInput(void* context, int t0, int t1)
    {
        ref Job j = ref Unsafe.AsRef<Job>(context);
        var (b, s, T) = (j.Block, j.S, j.T);
        int d = b.AttnProj.Rows;
        bool quantized = b.Qkv.UsesQuantizedInput;
        var normed = s.Normed.AsSpan(0, T * d);
        TokenParallel.LayerNormRows(s.X.AsSpan(0, T * d), b.Ln1, j.Eps, normed, T, quantized ? s.Quantized : null, t0, t1);
        var qkv = s.Qkv.AsSpan(0, T * 3 * d);
        b.Qkv.ApplyTokens(normed, qkv, T, t0, t1, s.Quantized, inputQuantized: quantized);
        CacheTokens.AppendRange(qkv, j.Cache, j.Heads, j.P0, t0, t1);
    }

    /// <summary>Stage C for tokens t0..t1-1: <c>x += Proj(o)</c>, then <c>x += Proj(GELU(Fc(LN2(x))))</c> (GELU and the proj
    /// input's quantization in the fc's epilogue, as in <see cref="TransformerBlock.Mlp"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ProjectionAndMlp(void* context, int t0, int t1)
    {
        ref Job j = ref Unsafe.AsRef<Job>(context);
        var (b, s, T) = (j.Block, j.S, j.T);
        int d = b.AttnProj.Rows;
        var x = s.X.AsSpan(0, T * d);
        var branch = s.Branch.AsSpan(0, T * d);
        b.AttnProj.ApplyTokens(s.Attention.AsSpan(0, T * d), branch, T, t0, t1, s.Quantized, residual: x);
        Mlp(b.Ln2, b.Fc, b.Proj, s, T, t0, t1, j.Eps, x, residual: true);
    }

    /// <summary>Stage D for tokens t0..t1-1: <c>z = F_j(LN_j(x))</c> into <see cref="RunState.Branch"/>, its keys and values, and
    /// the entries <c>(p0 + t) |S| + j</c> (as <see cref="ShortcutAttention.Feature"/> and <see cref="ShortcutAttention.AppendEntries"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ShortcutEntries(void* context, int t0, int t1)
    {
        ref Job j = ref Unsafe.AsRef<Job>(context);
        var (f, w, s, T) = (j.Feature!, j.Shortcut!, j.S, j.T);
        int d = f.Proj.Rows;
        Mlp(f.Ln, f.Fc, f.Proj, s, T, t0, t1, j.Eps, s.Branch.AsSpan(0, T * d), residual: false);
        var kv = s.Kv.AsSpan(0, T * 2 * d);
        w.Kv.ApplyTokens(s.Branch.AsSpan(0, T * d), kv, T, t0, t1, s.Quantized);
        ShortcutAttention.WriteEntries(s, kv, j.Tap, j.P0, j.TapCount, j.Heads, t0, t1);
    }

    /// <summary><c>Proj(GELU(Fc(LN(x))))</c> for tokens t0..t1-1 of <see cref="RunState.X"/>: added to <paramref name="output"/>
    /// (= x) when <paramref name="residual"/>, else written to it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Mlp(NormWeights ln, ManagedLinear fc, ManagedLinear proj, RunState s, int T, int t0, int t1, float eps,
        Span<float> output, bool residual)
    {
        int d = proj.Rows;
        var normed = s.Normed.AsSpan(0, T * d);
        bool quantized = fc.UsesQuantizedInput, fused = proj.UsesQuantizedInput;
        TokenParallel.LayerNormRows(s.X.AsSpan(0, T * d), ln, eps, normed, T, quantized ? s.Quantized : null, t0, t1);
        var hidden = s.Hidden.AsSpan(0, T * fc.Rows);
        fc.ApplyTokens(normed, hidden, T, t0, t1, s.Quantized, new LinearEpilogue(Gelu: true, fused ? s.QuantizedHidden : null), inputQuantized: quantized);
        if (residual) proj.ApplyTokens(hidden, s.Branch.AsSpan(0, T * d), T, t0, t1, fused ? s.QuantizedHidden : s.Quantized, inputQuantized: fused, residual: output);
        else proj.ApplyTokens(hidden, output, T, t0, t1, fused ? s.QuantizedHidden : s.Quantized, inputQuantized: fused);
    }
}

/// <summary>Which rows of X a prefill block computes (<see cref="PrefillBlock.Run"/>); the cache gets every token's keys and
/// values in each case.</summary>
internal enum PrefillRows
{
    /// <summary>Every token's row: a later block or a tap's features reads them.</summary>
    All,
    /// <summary>The last token's row only: the exit head reads nothing else.</summary>
    Last,
    /// <summary>No row: the last block of a chunk whose logits nobody wants (an earlier chunk of a long prompt).</summary>
    None,
}
