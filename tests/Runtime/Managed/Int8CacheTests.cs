using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Managed.Kernels;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13, late tokens: the managed engine can keep its key/value caches in int8 with a scale per head and slot
/// (<see cref="KeyValueCachePrecision.Int8"/>), a quarter of the float32 bytes a decode step reads from them.</summary>
public class Int8CacheTests
{
    [Fact]
    public void Quantizing_keeps_each_value_within_half_a_step_and_maps_the_largest_to_127()
    {
        var rng = new Random(8);
        foreach (int n in new[] { 1, 7, 64, 100 })
            foreach (double magnitude in new[] { 1e-6, 1, 300 })
            {
                var x = Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * magnitude)).ToArray();
                var q = new sbyte[n];
                float scale = Int8CacheQuantizer.Quantize(x, q);
                float max = x.Max(MathF.Abs);
                Assert.Equal(max / 127f, scale);
                Assert.Equal(127, q.Max(v => Math.Abs((int)v)));
                for (int i = 0; i < n; i++)
                {
                    Assert.True(Math.Abs(scale * q[i] - x[i]) <= scale * 0.5001, $"{x[i]} -> {q[i]} x {scale}");
                    Assert.Equal((sbyte)MathF.Round(x[i] * (127f / max)), q[i]);   // the vector lanes give the scalar formula's value
                }
            }
        var zeros = new sbyte[] { 5, 5, 5 };
        Assert.Equal(0f, Int8CacheQuantizer.Quantize(new float[3], zeros));   // an all-zero head: scale 0, integers 0
        Assert.Equal(new sbyte[3], zeros);
        var halves = new sbyte[4];
        Int8CacheQuantizer.Quantize([127f, 0.5f, 1.5f, -2.5f], halves);      // scale 1: ties go to the even integer
        Assert.Equal(new sbyte[] { 127, 0, 2, -2 }, halves);
        var ties = Enumerable.Range(0, 48).Select(i => i == 0 ? 127f : (i % 2 == 0 ? -1 : 1) * (i % 9 + 0.5f)).ToArray();
        var tied = new sbyte[48];
        Int8CacheQuantizer.Quantize(ties, tied);                            // the same in the vector lanes
        Assert.Equal(ties.Select(t => (sbyte)Math.Round(t, MidpointRounding.ToEven)), tied);
        Assert.True(float.IsNaN(Int8CacheQuantizer.Quantize([1f, float.NaN], new sbyte[2])));   // NaN reaches the scale
        var lanes = new float[64];
        lanes[5] = float.NaN;
        Assert.True(float.IsNaN(Int8CacheQuantizer.Quantize(lanes, new sbyte[64])));              // from a vector lane too
        lanes[5] = float.PositiveInfinity;
        Assert.False(float.IsFinite(Int8CacheQuantizer.Quantize(lanes, new sbyte[64])));
        Assert.Throws<ArgumentException>(() => Int8CacheQuantizer.Quantize(new float[4], new sbyte[3]));
    }

    [Fact]
    public void Widening_converts_every_integer_exactly()
    {
        var all = Enumerable.Range(-128, 256).Select(v => (sbyte)v).Concat(new sbyte[] { 3, -9, 77 }).ToArray();   // 259: a tail
        var widened = new float[all.Length];
        Int8CacheQuantizer.Widen(all, widened);
        Assert.Equal(all.Select(v => (float)v).ToArray(), widened);
    }

    [Theory]
    [InlineData(8, 1)]
    [InlineData(20, 37)]      // columns past the vector loops, a partial run of positions
    [InlineData(32, 200)]
    [InlineData(64, 131)]
    [InlineData(64, 250)]     // the 256-position score pass
    public void Scaled_attention_reads_int8_as_it_reads_the_widened_integers(int hd, int n)
    {
        var rng = new Random(hd * 1000 + n);
        int stride = n + 5;
        var q = Enumerable.Range(0, hd).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var kt8 = Enumerable.Range(0, hd * stride).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
        var v8 = Enumerable.Range(0, stride * hd).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();
        var keyScales = Enumerable.Range(0, stride).Select(_ => (float)(rng.NextDouble() * 0.02)).ToArray();
        var valueScales = Enumerable.Range(0, stride).Select(_ => (float)(rng.NextDouble() * 0.02)).ToArray();
        var mask = Enumerable.Range(0, n).Select(u => u % 5 == 3 ? AttentionKernels.Masked : 0f).ToArray();
        var (s1, s2, w1, w2, o1, o2) = (new float[n], new float[n], new float[n], new float[n], new float[hd], new float[hd]);
        AttentionKernels.AttendScaled<float, Float32Row>(q, kt8.Select(v => (float)v).ToArray(), stride, keyScales,
            v8.Select(v => (float)v).ToArray(), valueScales, s1, w1, o1, mask);
        AttentionKernels.AttendScaled<sbyte, Int8Row>(q, kt8, stride, keyScales, v8, valueScales, s2, w2, o2, mask);
        Assert.Equal(s1, s2);   // the probabilities
        Assert.Equal(o1, o2);

        // The scales are applied, not ignored: the float32 kernel on the dequantized cache agrees to rounding.
        var kt = new float[hd * stride];
        var v = new float[stride * hd];
        for (int c = 0; c < hd; c++) for (int u = 0; u < stride; u++) kt[c * stride + u] = keyScales[u] * kt8[c * stride + u];
        for (int u = 0; u < stride; u++) for (int c = 0; c < hd; c++) v[u * hd + c] = valueScales[u] * v8[u * hd + c];
        var (s3, o3) = (new float[n], new float[hd]);
        AttentionKernels.Attend(q, kt, stride, v, s3, o3, mask);
        for (int c = 0; c < hd; c++) Assert.Equal(o3[c], o2[c], 1e-5f);
    }

    [Fact]
    public void A_query_block_over_a_scaled_cache_equals_four_single_queries()
    {
        const int hd = 32, stride = 40, length0 = 29, qStride = 96;
        var rng = new Random(3);
        var q = Enumerable.Range(0, 3 * qStride + hd).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var kt = Enumerable.Range(0, hd * stride).Select(_ => (float)rng.Next(-127, 128)).ToArray();
        var v = Enumerable.Range(0, stride * hd).Select(_ => (float)rng.Next(-127, 128)).ToArray();
        var keyScales = Enumerable.Range(0, stride).Select(_ => (float)(rng.NextDouble() * 0.03)).ToArray();
        var valueScales = Enumerable.Range(0, stride).Select(_ => (float)(rng.NextDouble() * 0.03)).ToArray();
        var block = new float[3 * hd + hd];
        QueryBlockAttention.Attend(q, qStride, hd, kt, stride, v, length0, new float[4 * (length0 + 3)], block, hd, default, keyScales, valueScales);
        for (int i = 0; i < 4; i++)
        {
            int n = length0 + i;
            var single = new float[hd];
            AttentionKernels.AttendScaled<float, Float32Row>(q.AsSpan(i * qStride, hd), kt, stride, keyScales, v, valueScales,
                new float[n], new float[n], single, default);
            Assert.Equal(single, block.AsSpan(i * hd, hd).ToArray());
        }
        Assert.Throws<ArgumentException>(() => QueryBlockAttention.Attend(q, qStride, hd, kt, stride, v, length0,
            new float[4 * (length0 + 3)], block, hd, default, keyScales, default));   // one scale array without the other
    }

    [Fact]
    public void A_cache_stores_each_heads_slot_as_integers_and_a_scale_and_refuses_writes_that_split_a_head()
    {
        const int d = 16, heads = 2, hd = 8, n = 12;
        var cache = new LayerCache(d, heads, n, KeyValueCachePrecision.Int8);
        Assert.Equal(2 * d + 2 * heads * 4, cache.BytesPerSlot);
        Assert.False(cache.AcceptsPartialHeads);
        var rng = new Random(6);
        var rows = Enumerable.Range(0, 5 * 3 * d).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        cache.MarkWritten();
        cache.AppendUnmarked(rows, 3 * d, 5, heads, 0);
        for (int h = 0; h < heads; h++)
        {
            var view = cache.Head(h, heads, 5);
            for (int p = 0; p < 5; p++)
                for (int c = 0; c < hd; c++)
                {
                    float key = rows[p * 3 * d + d + h * hd + c], value = rows[p * 3 * d + 2 * d + h * hd + c];
                    Assert.True(Math.Abs(view.KeyScales[p] * view.Keys[c * view.KeyStride + p] - key) <= view.KeyScales[p] * 0.5001);
                    Assert.True(Math.Abs(view.ValueScales[p] * view.Values[p * hd + c] - value) <= view.ValueScales[p] * 0.5001);
                    Assert.Equal(MathF.Round(view.Keys[c * view.KeyStride + p]), view.Keys[c * view.KeyStride + p]);   // integers
                }
        }
        // A whole head at a time is fine (the shortcut memory's entries, a decode step after its product); half of one is not.
        cache.MarkWritten();
        cache.SetKeyChannelsUnmarked(new float[hd], hd, 5);
        Assert.Throws<InvalidOperationException>(() => cache.SetKeyChannelsUnmarked(new float[hd], 4, 6));
        Assert.Throws<InvalidOperationException>(() => cache.SetValueChannelsUnmarked(new float[4], 0, heads, 6));
        Assert.Throws<ArgumentException>(() => cache.SetValueChannelsUnmarked(new float[d], 0, 4, 6));   // not its head count
        Assert.Throws<ArgumentOutOfRangeException>(() => new LayerCache(d, 3, n, KeyValueCachePrecision.Int8));
    }
}
