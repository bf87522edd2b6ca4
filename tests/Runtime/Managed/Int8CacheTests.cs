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

    [Theory]
    [InlineData(8, 1)]
    [InlineData(13, 2)]       // an odd head width: the last key pair ends in a zero
    [InlineData(20, 37)]      // channels past the vector loops, an odd run of slots
    [InlineData(32, 200)]
    [InlineData(64, 131)]
    [InlineData(64, 250)]
    public void Integer_attention_gives_exactly_its_formula_and_the_float_attention_of_the_dequantized_cache(int hd, int n)
    {
        var rng = new Random(hd * 1000 + n);
        int capacity = n + 5;
        var q = Enumerable.Range(0, hd).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var k8 = Enumerable.Range(0, hd * capacity).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();   // [c, u]
        var v8 = Enumerable.Range(0, capacity * hd).Select(_ => (sbyte)rng.Next(-127, 128)).ToArray();   // [u, c]
        var keyScales = Enumerable.Range(0, capacity).Select(_ => (float)(rng.NextDouble() * 0.02)).ToArray();
        var valueScales = Enumerable.Range(0, capacity).Select(_ => (float)(rng.NextDouble() * 0.02)).ToArray();
        var mask = Enumerable.Range(0, n).Select(u => u % 5 == 3 && n > 1 ? AttentionKernels.Masked : 0f).ToArray();
        var (keys, values) = Interleave(k8, v8, hd, capacity);
        var (scores, output) = (new float[n], new float[hd]);
        Int8CacheAttention.Attend(q, keys, keyScales, values, valueScales, capacity, scores, output, mask, new short[n + 1]);

        var (expectedScores, expected) = Reference(q, k8, keyScales, v8, valueScales, capacity, n, mask);
        Assert.Equal(expectedScores, scores);   // the probabilities
        Assert.Equal(expected, output);

        // The scales are applied, and the int16 query and weights cost little: the float32 kernel on the dequantized cache
        // agrees to a tenth of the int8 values' own rounding (half a step, 1/254 of the largest value).
        var kt = new float[hd * capacity];
        var v = new float[capacity * hd];
        for (int c = 0; c < hd; c++) for (int u = 0; u < capacity; u++) kt[c * capacity + u] = keyScales[u] * k8[c * capacity + u];
        for (int u = 0; u < capacity; u++) for (int c = 0; c < hd; c++) v[u * hd + c] = valueScales[u] * v8[u * hd + c];
        var (s3, o3) = (new float[n], new float[hd]);
        AttentionKernels.Attend(q, kt, capacity, v, s3, o3, mask);
        float largest = v.Max(MathF.Abs);
        for (int c = 0; c < hd; c++) Assert.Equal(o3[c], output[c], largest / 2540);
    }

    [Fact]
    public void A_wide_heads_query_integers_cannot_overflow()
    {
        // hd 600: 600 products of 32767 x 127 would pass 2^31, so the query's integers shrink. Slot 0's key is +127 in every
        // channel, slot 1's is 0; their values are +127 and -127. An overflowed score of slot 0 would wrap negative and flip
        // the attention towards slot 1; the true one gives slot 0 about two thirds of it.
        const int hd = 600, n = 2;
        var keys = new sbyte[Int8CacheAttention.KeyLength(hd, n)];
        var values = new sbyte[Int8CacheAttention.ValueLength(hd, n)];
        for (int c = 0; c < hd; c++)
            (keys[Int8CacheAttention.KeyIndex(c, 0, n)], values[Int8CacheAttention.ValueIndex(0, c, hd)], values[Int8CacheAttention.ValueIndex(1, c, hd)]) = (127, 127, -127);
        var q = Enumerable.Repeat(1f, hd).ToArray();
        var (scores, output) = (new float[n], new float[hd]);
        Int8CacheAttention.Attend(q, keys, [1e-5f, 1e-5f], values, [0.01f, 0.01f], n, scores, output, default, new short[n + 1]);
        float p0 = 1 / (1 + MathF.Exp(-hd * 127 * 1e-5f));   // softmax of (0.762, 0)
        Assert.Equal(p0, scores[0], 1e-4f);
        foreach (float o in output) Assert.Equal(1.27f * (2 * p0 - 1), o, 1e-3f);
    }

    [Fact]
    public void A_long_flat_attentions_weight_integers_cannot_overflow()
    {
        // 3000 equal weights of 32767 times +127 would pass 2^31, so the weights' integers shrink (16e6 / n). Every key and
        // value at +127 and every scale equal: the attention is flat, and the true output is 127 x the value scale.
        const int hd = 64, n = 3000;
        var keys = Enumerable.Repeat((sbyte)127, Int8CacheAttention.KeyLength(hd, n)).ToArray();
        var values = Enumerable.Repeat((sbyte)127, Int8CacheAttention.ValueLength(hd, n)).ToArray();
        var scales = Enumerable.Repeat(0.01f, n).ToArray();
        var q = Enumerable.Repeat(3f, hd).ToArray();
        var (scores, output) = (new float[n], new float[hd]);
        Int8CacheAttention.Attend(q, keys, scales, values, scales, n, scores, output, default, new short[n + 1]);
        foreach (float o in output) Assert.Equal(1.27f, o, 1e-3f);
        Assert.Equal(1f / n, scores[n / 2], 1e-6f);
    }

    [Fact]
    public void A_NaN_reaches_the_output_and_an_all_zero_cache_gives_zero()
    {
        const int hd = 16, n = 9;
        var keys = new sbyte[Int8CacheAttention.KeyLength(hd, n)];
        var values = new sbyte[Int8CacheAttention.ValueLength(hd, n)];
        var ones = Enumerable.Repeat(1f, n).ToArray();
        var q = Enumerable.Range(0, hd).Select(c => c * 0.1f).ToArray();
        var output = new float[hd];
        Int8CacheAttention.Attend(q, keys, ones, values, new float[n], n, new float[n], output, default, new short[n + 1]);
        Assert.All(output, o => Assert.Equal(0f, o));                 // every value scale 0: an all-zero head
        q[3] = float.NaN;
        Int8CacheAttention.Attend(q, keys, ones, values, ones, n, new float[n], output, default, new short[n + 1]);
        Assert.All(output, o => Assert.True(float.IsNaN(o)));
        q[3] = 0;
        var valueScales = (float[])ones.Clone();
        valueScales[4] = float.NaN;                                   // a NaN value reached its slot's scale
        Int8CacheAttention.Attend(q, keys, ones, values, valueScales, n, new float[n], output, default, new short[n + 1]);
        Assert.All(output, o => Assert.True(float.IsNaN(o)));
        Assert.Throws<ArgumentException>(() => Int8CacheAttention.Attend(q, keys, ones, values, ones, n, new float[n], output, default, new short[n]));
    }

    /// <summary>The pair-interleaved layouts of keys <c>[c, u]</c> and values <c>[u, c]</c>.</summary>
    private static (sbyte[] Keys, sbyte[] Values) Interleave(sbyte[] k8, sbyte[] v8, int hd, int capacity)
    {
        var keys = new sbyte[Int8CacheAttention.KeyLength(hd, capacity)];
        var values = new sbyte[Int8CacheAttention.ValueLength(hd, capacity)];
        for (int c = 0; c < hd; c++)
            for (int u = 0; u < capacity; u++)
                (keys[Int8CacheAttention.KeyIndex(c, u, capacity)], values[Int8CacheAttention.ValueIndex(u, c, hd)]) = (k8[c * capacity + u], v8[u * hd + c]);
        return (keys, values);
    }

    /// <summary>Int8CacheAttention's documented formula, one element at a time, with 64-bit integer sums.</summary>
    private static (float[] Probabilities, float[] Output) Reference(float[] q, sbyte[] k8, float[] keyScales, sbyte[] v8, float[] valueScales,
        int capacity, int n, float[] mask)
    {
        int hd = q.Length, pairs = (hd + 1) / 2;
        int queryLimit = (int)Math.Min(short.MaxValue, int.MaxValue / (127L * 2 * pairs));
        float maxQ = q.Max(MathF.Abs), sq = maxQ / queryLimit;
        var qq = q.Select(x => (long)Math.Clamp(MathF.Round(x * (queryLimit / maxQ)), -queryLimit, queryLimit)).ToArray();
        var p = new float[n];
        for (int u = 0; u < n; u++)
        {
            long sum = 0;
            for (int c = 0; c < hd; c++) sum += qq[c] * k8[c * capacity + u];
            p[u] = ((float)sum * sq) * keyScales[u] + mask[u];
        }
        Softmax.Apply(p);
        int weightLimit = Math.Min(short.MaxValue, 16_000_000 / n);
        float maxW = Enumerable.Range(0, n).Max(u => p[u] * valueScales[u]), sw = maxW / weightLimit;
        var wq = Enumerable.Range(0, n).Select(u => (long)MathF.Min(MathF.Round(p[u] * valueScales[u] * (weightLimit / maxW)), weightLimit)).ToArray();
        var output = new float[hd];
        for (int c = 0; c < hd; c++)
        {
            long sum = 0;
            for (int u = 0; u < n; u++) sum += wq[u] * v8[u * hd + c];
            output[c] = (float)sum * sw;
        }
        return (p, output);
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
