using System.Runtime.CompilerServices;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// The attention of T new tokens of one ordinary block (prefill), one item per (token, head), shared with the
/// helper thread through <see cref="RowParallel"/> like the rows of a Linear:
/// <code>
/// item i = t * H + h:   o[t, h] = softmax_u(q[t, h] . k_h[u], u &lt;= p0 + t) v_h[u]      # q already scaled by 1/sqrt(hd)
/// </code>
/// Every item runs <see cref="AttentionKernels.Attend"/> exactly as the one-thread loop does, so the outputs are
/// bit-identical whichever thread computes them. Each thread has its own score scratch (<c>[n]</c>, allocated
/// once per thread), since two items run at once.
/// </summary>
internal static unsafe class ParallelAttention
{
    [ThreadStatic] private static float[]? t_scores;

    private struct Job
    {
        public float* Qkv, Keys, Values, Output, Mask;
        public int D, Hd, Heads, N, P0, MaskLength;
    }

    /// <summary>Runs the T x H items of one block on both threads. <paramref name="qkv"/> <c>[T, 3d]</c> with scaled
    /// queries, <paramref name="keys"/> <c>[H, hd, n]</c>, <paramref name="values"/> <c>[H, n, hd]</c>, <paramref name="output"/>
    /// <c>[T, d]</c>, <paramref name="keyMask"/> <c>[n]</c> or empty.</summary>
    public static void Run(RowParallel parallel, ReadOnlySpan<float> qkv, float[] keys, float[] values, Span<float> output,
        ReadOnlySpan<float> keyMask, int T, int heads, int p0, int n)
    {
        int d = output.Length / T;
        fixed (float* q = qkv) fixed (float* k = keys) fixed (float* v = values) fixed (float* o = output) fixed (float* m = keyMask)
        {
            var job = new Job { Qkv = q, Keys = k, Values = v, Output = o, Mask = m, MaskLength = keyMask.Length, D = d, Hd = d / heads, Heads = heads, N = n, P0 = p0 };
            parallel.Run(&Items, Unsafe.AsPointer(ref job), T * heads);
        }
    }

    private static void Items(void* context, int start, int end)
    {
        ref Job j = ref Unsafe.AsRef<Job>(context);
        int d = j.D, hd = j.Hd, n = j.N;
        var scratch = t_scores ??= new float[n];
        if (scratch.Length < n) scratch = t_scores = new float[n];
        for (int i = start; i < end; i++)
        {
            int t = i / j.Heads, h = i % j.Heads, positions = j.P0 + t + 1;
            var q = new ReadOnlySpan<float>(j.Qkv + (long)t * 3 * d + h * hd, hd);
            var keys = new ReadOnlySpan<float>(j.Keys + (long)h * hd * n, hd * n);
            var values = new ReadOnlySpan<float>(j.Values + (long)h * n * hd, n * hd);
            var mask = j.MaskLength == 0 ? default : new ReadOnlySpan<float>(j.Mask, positions);
            AttentionKernels.Attend(q, keys, n, values, scratch.AsSpan(0, positions), new Span<float>(j.Output + (long)t * d + h * hd, hd), mask);
        }
    }
}
