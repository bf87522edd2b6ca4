using System.Runtime.CompilerServices;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// Between a block's qkv projection and its attention, for the T new tokens at positions p0..p0+T-1:
/// <code>
/// keys of positions p0+t   -> cache (transposed [H, hd, n])     # qkv[t, d..2d)
/// values of positions p0+t -> cache ([H, n, hd])                # qkv[t, 2d..3d)
/// q_t *= 1/sqrt(hd)                                             # qkv[t, 0..d), in place
/// </code>
/// In a prefill each thread does the tokens whose qkv rows it computed (<see cref="TokenParallel.RunTokens"/>), so no
/// row crosses to the other thread's cache; the attention after it starts once both halves are in the cache.
/// Same arithmetic per token as the serial loop (a copy, a transpose, one multiply per query element).
/// </summary>
internal static unsafe class CacheTokens
{
    private struct Job
    {
        public LayerCache Cache;   // lives on the caller's stack frame until Append returns
        public float* Qkv;
        public int Heads, P0;
    }

    /// <summary>Appends the keys and values of <paramref name="qkv"/> <c>[T, 3d]</c> to <paramref name="cache"/> at
    /// positions <paramref name="p0"/>.. and scales its queries by <c>1/sqrt(hd)</c>.</summary>
    public static void Append(RowParallel? parallel, Span<float> qkv, LayerCache cache, int T, int heads, int p0)
    {
        if (T < 1 || qkv.Length != (long)T * 3 * cache.Dim) throw new ArgumentException($"qkv holds {qkv.Length} values, expected {T}x{3 * cache.Dim}.", nameof(qkv));
        cache.MarkWritten();
        fixed (float* q = qkv)
        {
            var job = new Job { Cache = cache, Qkv = q, Heads = heads, P0 = p0 };
            TokenParallel.RunTokens(parallel, &Tokens, Unsafe.AsPointer(ref job), T);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tokens(void* context, int t0, int t1)
    {
        ref Job j = ref Unsafe.AsRef<Job>(context);
        AppendRange(new Span<float>(j.Qkv, (t1 * 3 * j.Cache.Dim)), j.Cache, j.Heads, j.P0, t0, t1);
    }

    /// <summary>The tokens <paramref name="t0"/>..<paramref name="t1"/>-1 of <see cref="Append"/>, on this thread, without marking
    /// the cache written (the caller has: <see cref="LayerCache.MarkWritten"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AppendRange(Span<float> qkv, LayerCache cache, int heads, int p0, int t0, int t1)
    {
        int d = cache.Dim, n = t1 - t0;
        var rows = qkv.Slice(t0 * 3 * d, n * 3 * d);
        cache.AppendUnmarked(rows, 3 * d, n, heads, p0 + t0);
        float scale = 1f / MathF.Sqrt(d / heads);
        for (int t = 0; t < n; t++) Kernels.Elementwise.Scale(rows.Slice(t * 3 * d, d), scale);
    }
}
