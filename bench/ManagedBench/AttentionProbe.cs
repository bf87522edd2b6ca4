using System.Diagnostics;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// How fast a decode step's attention reads its cache when the cache is cold, as it is in a real decode (a large
/// model's weights stream through the L3 between two visits of one layer's cache). For each of L layers' caches
/// (d, H heads, n slots, filled up to position p) it first streams a junk buffer of about one layer's weights
/// (untimed), then times one query's attention over that layer (<c>ParallelAttention.Run</c>, T = 1) on the
/// engine's threads. Achieved GB/s = the keys and values read / time, set against the machine's read bandwidth.
/// </summary>
internal static class AttentionProbe
{
    public static void Run(int dim, int heads, int layers, int capacity, int rounds, KeyValueCachePrecision precision, int threads)
    {
        var caches = new LayerCache[layers];
        var rng = new Random(3);
        var qkv = new float[3 * dim];
        for (int l = 0; l < layers; l++)
        {
            caches[l] = new LayerCache(dim, heads, capacity, precision);
            for (int p = 0; p < capacity; p++)
            {
                for (int i = 0; i < qkv.Length; i++) qkv[i] = (float)(rng.NextDouble() * 2 - 1);
                caches[l].MarkWritten();
                CacheTokens.AppendRows(qkv, 0, 0, new KeyValueAppend(caches[l], p, heads));
            }
        }
        var junk = GC.AllocateArray<byte>(8 << 20, pinned: true);
        new Random(1).NextBytes(junk);
        var output = new float[dim];
        using var parallel = threads > 1 ? new RowParallel() : null;
        double readGbs = ReadBandwidth.Measure(Math.Max(1, threads), passes: 3);
        Console.WriteLine($"attention d{dim} H{heads} L{layers} n{capacity}, {precision} cache, {threads} thread(s); read bandwidth {readGbs:F1} GB/s; load {LoadAverage.Read()}");
        Console.WriteLine("| position | us per layer | GB/s | share of read bandwidth |");
        Console.WriteLine("|---|---|---|---|");
        foreach (int p in new[] { 32, 128, 240 })
        {
            if (p >= capacity) continue;
            long ticks = 0;
            long sink = 0;
            for (int r = 0; r <= rounds; r++)
            {
                for (int l = 0; l < layers; l++)
                {
                    sink += Touch(junk);
                    for (int i = 0; i < dim; i++) qkv[i] = (float)(rng.NextDouble() * 0.1);
                    long t0 = Stopwatch.GetTimestamp();
                    var helper = ParallelAttention.WorthSharing(p + 1, dim, weightsStream: true) ? parallel : null;   // cold, as the probe makes it
                    ParallelAttention.Run(helper, qkv, caches[l], output, default, 1, heads, p);
                    if (r > 0) ticks += Stopwatch.GetTimestamp() - t0;
                }
            }
            if (sink == 42) Console.Write("");
            double seconds = ticks / (double)Stopwatch.Frequency / (rounds * layers);
            double bytes = (double)caches[0].BytesPerSlot * (p + 1);
            double gbs = bytes / seconds / 1e9;
            Console.WriteLine($"| {p} | {seconds * 1e6:F1} | {gbs:F1} | {gbs / readGbs:P0} |");
        }
    }

    private static long Touch(byte[] buffer)
    {
        long s = 0;
        var longs = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(buffer);
        for (int i = 0; i < longs.Length; i += 8) s += longs[i];
        return s;
    }
}
