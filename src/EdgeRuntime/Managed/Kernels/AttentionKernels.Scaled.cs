using System.Runtime.CompilerServices;

namespace EdgeShortcut.Runtime.Managed.Kernels;

// A cache whose slots carry their own scales (int8: Int8CacheQuantizer), key u = keyScales[u] kq_u and value u =
// valueScales[u] vq_u. The scales sit outside the multiply-add chains:
//   scores[u]  = (q . kq_u) * keyScales[u]          then the mask and the softmax, as in Attend
//   weights[u] = scores[u] * valueScales[u];  output = sum_u weights[u] vq_u
// A prefill's query blocks (QueryBlockAttention) apply the same two element-wise products to the same chains, so a prefill
// still equals token-by-token decode bit for bit.
internal static partial class AttentionKernels
{
    /// <summary>One query's attention over the first <c>scores.Length</c> slots of a scaled cache (above). Afterwards
    /// <paramref name="scores"/> holds the probabilities (what the shortcut block's tap mass reads) and
    /// <paramref name="weights"/> (scratch, at least as long) the probabilities times the value scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AttendScaled<T, TRow>(ReadOnlySpan<float> q, ReadOnlySpan<T> kt, int stride, ReadOnlySpan<float> keyScales,
        ReadOnlySpan<T> v, ReadOnlySpan<float> valueScales, Span<float> scores, Span<float> weights, Span<float> output,
        ReadOnlySpan<float> mask) where T : unmanaged where TRow : struct, ICacheRow<T>
    {
        int n = scores.Length;
        if (keyScales.Length < n || valueScales.Length < n || weights.Length < n)
            throw new ArgumentException($"Scaled attention over {n} slots needs {n} key scales, value scales and weights.");
        Scores<T, TRow>(q, kt, stride, scores);
        Elementwise.Multiply(scores, keyScales[..n], scores);
        if (!mask.IsEmpty) Elementwise.Add(scores, mask[..n], scores);
        Softmax.Apply(scores);
        var w = weights[..n];
        Elementwise.Multiply(scores, valueScales[..n], w);
        WeightedSum<T, TRow>(w, v, output);
    }
}
