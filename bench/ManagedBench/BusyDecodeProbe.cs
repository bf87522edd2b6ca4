using System.Diagnostics;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// Decode at one and two threads, interleaved run by run, with the helper's counters: how often the two-thread
/// engine went solo (stalls, contended windows) and how many jobs it still offered the helper. Run it beside a busy
/// process to see why two threads lose there (issue 13, "one busy core").
/// </summary>
internal static class BusyDecodeProbe
{
    public static void Run(int dim, int layers, int runs, ActivationPrecision activations)
    {
        var c = SizeSweep.Config(dim, layers, shortcut: false);
        var model = RandomModel.Build(c, int8: true);
        var engines = new[] { 1, 2 }.Select(t => ManagedBackend.FromOnnx(model, "random", activations, t)).ToArray();
        var rates = new List<double>[] { [], [] };
        Console.WriteLine($"decode of {c.ContextLength - 1} tokens, d{dim}/L{layers}, {activations} activations, {runs} runs, load average {LoadAverage.Read()}");
        for (int run = 0; run <= runs; run++)
            for (int e = 0; e < engines.Length; e++)
            {
                using var s = engines[e].CreateManagedSequence();
                int token = 1;
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < c.ContextLength - 1; i++)
                {
                    var logits = s.Append([token]);
                    token = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits);
                }
                double tps = (c.ContextLength - 1) / Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (run > 0) rates[e].Add(tps);
                if (run > 0 && s.Parallel is { } p)
                    Console.WriteLine($"  2 threads run {run}: {tps:F0} tok/s; two-thread jobs {p.TwoThreadJobs}, helper chunks {p.HelperChunks}, stalls {p.Stalls}, solo jobs {p.SoloRuns}, contended windows {p.ContendedWindows}, idle-helper windows {p.IdleHelperWindows}, wakes kept off the caller's CPU {p.WakesPlaced}");
                else if (run > 0) Console.WriteLine($"  1 thread  run {run}: {tps:F0} tok/s");
            }
        Console.WriteLine($"median tok/s: 1 thread {EdgeShortcut.Measure.Stats.Median(rates[0]):F0}, 2 threads {EdgeShortcut.Measure.Stats.Median(rates[1]):F0} ({EdgeShortcut.Measure.Stats.Median(rates[1]) / EdgeShortcut.Measure.Stats.Median(rates[0]):F2}x), load average {LoadAverage.Read()}");
        foreach (var e in engines) e.Dispose();
    }
}
