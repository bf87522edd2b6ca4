using System.Diagnostics;
using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// Where a prefill's wall time goes between one and two threads: the sweep's plain and shortcut models of one size
/// (int8 file, int8 activations), one prefill of the full context per contender per round, the four contenders
/// interleaved round by round. Prints the median wall ms, the process CPU ms (both threads), and the speedup of two
/// threads over one: the share of the work the helper thread takes.
/// </summary>
internal static class PrefillBench
{
    /// <param name="tiles">GEMM tiles to compare (the plain model only, each tile at 1 and 2 threads; the engine's
    /// <c>Int8MatVec.BestBatchTile</c> is switched before each run), or empty: the plain and shortcut models on the best tile.</param>
    /// <param name="caches">Key/value cache precisions to compare (each a contender per model and thread count).</param>
    /// <param name="pauseMs">An idle pause before each prefill (every thread asleep), as before a user's first prompt; 0: none.</param>
    public static void Run(int dim, int layers, int rounds, ActivationPrecision activations, bool perRound = false, Int8MatVec.BatchTile[]? tiles = null,
        KeyValueCachePrecision[]? caches = null, int pauseMs = 0)
    {
        var contenders = new List<(string Name, ManagedBackend Engine, ManagedSequence Sequence, List<double> Wall, List<double> Cpu)>();
        var tileOf = new List<Int8MatVec.BatchTile>();
        var best = Int8MatVec.BestBatchTile;
        foreach (bool shortcut in tiles is { Length: > 0 } ? new[] { false } : new[] { false, true })
            foreach (var tile in tiles is { Length: > 0 } ? tiles : [best])
                foreach (var cache in caches is { Length: > 0 } ? caches : [KeyValueCachePrecision.Float32])
                    foreach (int threads in new[] { 1, 2 })
                    {
                        var c = SizeSweep.Config(dim, layers, shortcut);
                        var engine = ManagedBackend.FromOnnx(RandomModel.Build(c, int8: true), "random", activations, threads, cache);
                        string tileName = tiles is { Length: > 0 } ? $", {tile} tile" : "";
                        string cacheName = caches is { Length: > 0 } ? $", {cache} cache" : "";
                        contenders.Add(($"{(shortcut ? "shortcut" : "plain")} d{dim}/L{layers}{tileName}{cacheName}, {threads} thread{(threads > 1 ? "s" : "")}", engine, engine.CreateManagedSequence(), [], []));
                        tileOf.Add(tile);
                    }
        var config = SizeSweep.Config(dim, layers, shortcut: false);
        int[] prompt = [.. Enumerable.Range(0, config.ContextLength).Select(p => (p * 31 + 7) % config.VocabSize)];
        var process = Process.GetCurrentProcess();
        // Warm-up: prefill-only methods tier up after 30 calls and a quiet 100 ms, so a few rounds, a pause for the
        // background compiles, and one more round (with round 0 alone, the first measured rounds ran tier-0 code).
        const int warmupRounds = 4;
        for (int round = 1 - warmupRounds; round <= rounds; round++)
        {
            if (round == 0) Thread.Sleep(300);
            foreach (int i in RoundOrder.Of(contenders.Count, round))
            {
                var (_, _, sequence, wall, cpu) = contenders[i];
                Int8MatVec.BestBatchTile = tileOf[i];
                sequence.Reset();
                if (pauseMs > 0) Thread.Sleep(pauseMs);
                process.Refresh();
                var cpu0 = process.TotalProcessorTime;
                long t0 = Stopwatch.GetTimestamp();
                sequence.Append(prompt);
                double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                process.Refresh();
                if (round <= 0) continue;
                if (perRound) Console.Write($"{ms:F1} ");   // shows rounds that still ran tier-0 code (in the round's order)

                wall.Add(ms);
                cpu.Add((process.TotalProcessorTime - cpu0).TotalMilliseconds);
            }
        }
        Int8MatVec.BestBatchTile = best;
        if (perRound) Console.WriteLine("(wall ms per round, contenders in turn)");
        Console.WriteLine($"Prefill of {prompt.Length} tokens, {activations} activations, {rounds} interleaved rounds{(pauseMs > 0 ? $", {pauseMs} ms idle before each" : "")}, load average {LoadAverage.Read()}");
        Console.WriteLine();
        Console.WriteLine("| contender | wall ms (median / best) | process CPU ms (median) | 1 thread / 2 threads, wall |");
        Console.WriteLine("|---|---|---|---|");
        for (int i = 0; i < contenders.Count; i++)
        {
            var (name, _, _, wall, cpu) = contenders[i];
            string speedup = i % 2 == 1 ? $"{EdgeShortcut.Measure.Stats.Median(contenders[i - 1].Wall) / EdgeShortcut.Measure.Stats.Median(wall):F2}x" : "";
            Console.WriteLine($"| {name} | {EdgeShortcut.Measure.Stats.Median(wall):F1} / {wall.Min():F1} | {EdgeShortcut.Measure.Stats.Median(cpu):F1} | {speedup} |");
        }
        Console.WriteLine();
        foreach (var (name, _, sequence, _, _) in contenders)
            if (sequence.Parallel is { } p)
                Console.WriteLine($"{name}: helper stalls {p.Stalls}, jobs run solo after them {p.SoloRuns}, contended windows {p.ContendedWindows}, wakes kept off the caller's CPU {p.WakesPlaced}");
        foreach (var (_, engine, sequence, _, _) in contenders)
        {
            sequence.Dispose();
            engine.Dispose();
        }
    }
}
