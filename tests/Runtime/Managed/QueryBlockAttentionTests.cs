using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13: a prefill attends four queries per pass over a head's cache, and gets the bits that four
/// one-query calls get, so prefill stays identical to token-by-token decode.</summary>
public class QueryBlockAttentionTests
{
    [Theory]
    [InlineData(8, false)]
    [InlineData(64, false)]
    [InlineData(64, true)]
    [InlineData(24, true)]
    public void Four_queries_at_once_equal_four_single_query_calls_bit_for_bit(int hd, bool masked)
    {
        Assert.True(QueryBlockAttention.Supports(hd));   // AVX2 or better: every CI machine here
        var rng = new Random(hd);
        const int stride = 83;   // capacity; stale positions past each query's length must not matter
        float[] Random(int count, double range) => [.. Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2 - 1) * range))];
        var kt = Random(hd * stride, 1);
        var v = Random(stride * hd, 1);
        const int qStride = 3 * 64 + 5, outStride = 70;
        var q = Random(3 * qStride + hd, 2);
        // Hidden positions as adaptive depth makes them (additive mask); the first position stays visible.
        var mask = masked ? Enumerable.Range(0, stride).Select(u => u > 0 && u % 3 == 1 ? AttentionKernels.Masked : 0f).ToArray() : [];
        for (int length0 = 1; length0 + 3 <= stride; length0++)
        {
            var blocked = new float[3 * outStride + hd];
            QueryBlockAttention.Attend(q, qStride, hd, kt, stride, v, length0, new float[4 * stride], blocked, outStride, mask);
            for (int i = 0; i < 4; i++)
            {
                int length = length0 + i;
                var single = new float[hd];
                AttentionKernels.Attend(q.AsSpan(i * qStride, hd), kt, stride, v, new float[length], single, masked ? mask.AsSpan(0, length) : default);
                Assert.Equal(single, blocked.AsSpan(i * outStride, hd).ToArray());
            }
        }
    }

    [Fact]
    public void Buffers_too_short_for_the_shape_are_rejected()
    {
        const int hd = 8, stride = 16;
        Assert.Throws<ArgumentOutOfRangeException>(() => QueryBlockAttention.Attend(new float[4 * hd], hd, hd, new float[hd * stride], stride,
            new float[stride * hd], 14, new float[4 * stride], new float[4 * hd], hd, default));   // the last query would see 17 > 16 positions
        Assert.Throws<ArgumentException>(() => QueryBlockAttention.Attend(new float[4 * hd - 1], hd, hd, new float[hd * stride], stride,
            new float[stride * hd], 4, new float[4 * stride], new float[4 * hd], hd, default));
        Assert.Throws<NotSupportedException>(() => QueryBlockAttention.Attend(new float[4 * 12], 12, 12, new float[12 * stride], stride,
            new float[stride * 12], 4, new float[4 * stride], new float[4 * 12], 12, default));
    }
}
