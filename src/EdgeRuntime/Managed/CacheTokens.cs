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
/// (<see cref="PrefillBlock"/>), so no row crosses to the other thread's cache; a decode step's qkv product writes its rows
/// as its epilogue (<see cref="AppendRows"/>).
/// Same arithmetic per token either way (a copy, a transpose, one multiply per query element).
/// </summary>
internal static class CacheTokens
{
    /// <summary>
    /// Rows <paramref name="r0"/>.. of token <paramref name="t"/>'s qkv output (<paramref name="part"/>, a chunk of the
    /// <c>[3d]</c> row) into <paramref name="target"/>'s cache at position p0 + t, as the qkv product's epilogue: each thread
    /// writes the rows it just computed. A decode step's key is written transposed, one value into each of d key rows whose
    /// cache lines the weights streamed since the last step have evicted; done on one thread after the product, that took
    /// 4.6-5 us per layer at d768 (a tenth of the attention half); inside the product the misses overlap its weight stream.
    /// Same arithmetic as <see cref="AppendRange"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AppendRows(Span<float> part, int r0, int t, in KeyValueAppend target)
    {
        var cache = target.Cache;
        int d = cache.Dim, p = target.P0 + t;
        float scale = 1f / MathF.Sqrt(d / target.Heads);
        for (int i = 0; i < part.Length;)
        {
            int r = r0 + i, section = r / d, run = Math.Min((section + 1) * d - r, part.Length - i);
            var rows = part.Slice(i, run);
            if (section == 0) Kernels.Elementwise.Scale(rows, scale);
            else if (section == 1) cache.SetKeyChannelsUnmarked(rows, r - d, p);
            else cache.SetValueChannelsUnmarked(rows, r - 2 * d, target.Heads, p);
            i += run;
        }
    }

    /// <summary>Appends the keys and values of tokens <paramref name="t0"/>..<paramref name="t1"/>-1 of <paramref name="qkv"/>
    /// <c>[T, 3d]</c> at positions p0 + t and scales their queries by <c>1/sqrt(hd)</c>, on this thread, without marking the
    /// cache written (the caller has: <see cref="LayerCache.MarkWritten"/>).</summary>
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

/// <summary>Where a qkv product's epilogue appends its keys and values (<see cref="CacheTokens.AppendRows"/>): token t goes to
/// slot <see cref="P0"/> + t of <see cref="Cache"/>, whose version the caller has bumped (<see cref="LayerCache.MarkWritten"/>).</summary>
internal readonly record struct KeyValueAppend(LayerCache Cache, int P0, int Heads);
