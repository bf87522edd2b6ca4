using System.Runtime.CompilerServices;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// What a <see cref="ManagedLinear"/> does to its output rows inside its own job, chunk by chunk, so the work runs on
/// both threads while the chunk is still in cache (issue 13: fuse the activation quantization into the op before it):
/// <code>
/// y[t, r0..r1) = GELU(y[t, r0..r1))                    # when Gelu
/// QuantizeInto row t, blocks r0/32..r1/32 = quantize(y[t, r0..r1))   # int8 activations: the next Linear's input
/// AppendTo: y[t, r0..r1) of a qkv row -> scaled queries, cache keys and values   # a decode step (CacheTokens.AppendRows)
/// </code>
/// The next Linear's input blocks of 32 columns are 32 output rows of this one, so a quantizing epilogue needs chunks
/// aligned to 32 rows (<see cref="RowAlignment"/>). Per element the arithmetic is that of the separate passes (GELU
/// in 8-lane vectors for every element of a row whose length is a multiple of 8; quantization block by block), so
/// fusing changes no bits.
/// </summary>
internal readonly record struct LinearEpilogue(bool Gelu, QuantizedActivations? QuantizeInto, KeyValueAppend? AppendTo = null)
{
    /// <summary>Row alignment of the chunks this epilogue can be applied to: the int8 kernels' row groups (16), the next
    /// Linear's input blocks (32) when it quantizes, and whole heads when it appends to an int8 cache, whose slot takes one
    /// scale per head (<see cref="LayerCache.AcceptsPartialHeads"/>): then each thread quantizes the heads it computed,
    /// inside the product, where the cache lines it writes overlap the weight stream.</summary>
    public int RowAlignment
    {
        get
        {
            int rows = QuantizeInto is null ? 16 : ActivationQuantizer.BlockSize;
            if (AppendTo is { } append && !append.Cache.AcceptsPartialHeads) rows = LeastCommonMultiple(rows, append.Cache.Dim / append.Heads);
            return rows;
        }
    }

    private static int LeastCommonMultiple(int a, int b)
    {
        int x = a, y = b;
        while (y != 0) (x, y) = (y, x % y);
        return a / x * b;
    }

    /// <summary>Applies the epilogue to rows <c>r0..r0+n-1</c> of the token rows <paramref name="t0"/>..<paramref name="t1"/>-1
    /// of <paramref name="y"/> <c>[count, rows]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Apply(Span<float> y, int rows, int t0, int t1, int r0, int n)
    {
        if (!Gelu && QuantizeInto is null && AppendTo is null) return;
        for (int t = t0; t < t1; t++)
        {
            var chunk = y.Slice(t * rows + r0, n);
            if (Gelu) Kernels.Gelu.Apply(chunk);
            QuantizeInto?.QuantizeColumns(chunk, t, rows, r0);
            if (AppendTo is { } target) CacheTokens.AppendRows(chunk, r0, t, target);
        }
    }
}
