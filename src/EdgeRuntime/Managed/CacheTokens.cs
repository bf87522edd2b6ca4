using System.Runtime.CompilerServices;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// Between a block's qkv projection and its attention, for the T new tokens at positions p0..p0+T-1:
/// <code>
/// keys of positions p0+t   -> cache (transposed [H, hd, n])     # qkv[t, d..2d)
/// values of positions p0+t -> cache ([H, n, hd])                # qkv[t, 2d..3d)
/// q_t *= 1/sqrt(hd)                                             # qkv[t, 0..d), in place
/// </code>
/// In a prefill chunk each thread runs <see cref="AppendRange"/> over the tokens whose qkv rows it computed
/// (<see cref="PrefillBlock"/>), so no row crosses to the other thread's cache; a decode step runs <see cref="Append"/>.
/// Same arithmetic per token either way (a copy, a transpose, one multiply per query element).
/// </summary>
internal static class CacheTokens
{
    /// <summary>Appends the keys and values of <paramref name="qkv"/> <c>[T, 3d]</c> to <paramref name="cache"/> at
    /// positions <paramref name="p0"/>.. and scales its queries by <c>1/sqrt(hd)</c>, on this thread.</summary>
    public static void Append(Span<float> qkv, LayerCache cache, int T, int heads, int p0)
    {
        if (T < 1 || qkv.Length != (long)T * 3 * cache.Dim) throw new ArgumentException($"qkv holds {qkv.Length} values, expected {T}x{3 * cache.Dim}.", nameof(qkv));
        cache.MarkWritten();
        AppendRange(qkv, cache, heads, p0, 0, T);
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
