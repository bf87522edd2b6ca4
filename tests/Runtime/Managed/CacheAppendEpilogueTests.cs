using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13: a decode step's qkv product appends its keys and values to the cache (and scales its queries) in
/// its own job, each thread the rows it computed, instead of one pass on the calling thread afterwards.</summary>
public class CacheAppendEpilogueTests
{
    [Theory]
    [InlineData(KeyValueCachePrecision.Float32)]
    [InlineData(KeyValueCachePrecision.BFloat16)]
    public void Appending_any_chunking_of_the_qkv_rows_equals_appending_the_whole_token(KeyValueCachePrecision precision)
    {
        const int d = 48, heads = 3, capacity = 10, p = 7;
        var rng = new Random(5);
        var row = Enumerable.Range(0, 3 * d).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();

        var whole = new LayerCache(d, heads, capacity, precision);
        var wholeRow = (float[])row.Clone();
        whole.MarkWritten();
        CacheTokens.AppendRange(wholeRow, whole, heads, p, 0, 1);

        // Chunks that straddle the query/key/value sections and the heads inside them, as a row job's chunks can.
        var chunked = new LayerCache(d, heads, capacity, precision);
        var chunkedRow = (float[])row.Clone();
        chunked.MarkWritten();
        int[] edges = [0, 20, 40, 70, 100, 101, 3 * d];
        for (int i = 0; i + 1 < edges.Length; i++)
            CacheTokens.AppendRows(chunkedRow.AsSpan(edges[i], edges[i + 1] - edges[i]), edges[i], 0, new KeyValueAppend(chunked, p, heads));

        Assert.Equal(wholeRow, chunkedRow);   // the same scaled queries
        for (int h = 0; h < heads; h++)
        {
            var a = whole.Head(h, heads, p + 1);
            float[] keysA = a.Keys.ToArray(), valuesA = a.Values.ToArray();
            int strideA = a.KeyStride;
            var b = chunked.Head(h, heads, p + 1);
            for (int c = 0; c < d / heads; c++)
                Assert.Equal(keysA[c * strideA + p], b.Keys[c * b.KeyStride + p]);
            Assert.Equal(valuesA.AsSpan(p * (d / heads), d / heads).ToArray(), b.Values.Slice(p * (d / heads), d / heads).ToArray());
        }
    }

    [Fact]
    public void Channels_outside_the_cache_are_rejected()
    {
        var cache = new LayerCache(8, 2, 4, KeyValueCachePrecision.Float32);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.SetKeyChannelsUnmarked(new float[4], 6, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.SetValueChannelsUnmarked(new float[2], 0, 2, 4));
    }
}
