using System.Diagnostics;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// One prefill matrix product on one thread against the same product shared with the helper thread
/// (<see cref="RowParallel"/>, as the engine runs it), wall clock, interleaved: how close the split gets to 2x
/// with nothing else between the jobs. Each contender runs a burst of <c>jobs</c> products back to back,
/// with the helper asleep between jobs or awake (<see cref="RowParallel.BeginBurst"/>).
/// </summary>
internal static class SplitGemmBench
{
    public static void Run(int rounds, (int Rows, int Cols)[] shapes, int T)
    {
        const int jobs = 20;
        Console.WriteLine($"| rows x cols | tokens | contender | us per product, median / best | vs 1 thread |   (wall clock, {jobs} products per round, {rounds} rounds interleaved, load average {LoadAverage.Read()})");
        Console.WriteLine("|---|---|---|---|---|");
        using var parallel = new RowParallel();
        foreach (var (rows, cols) in shapes)
        {
            var rng = new Random(5);
            var w = new sbyte[rows * cols];
            for (int i = 0; i < w.Length; i++) w[i] = (sbyte)rng.Next(-127, 128);
            var linear = new Int8Linear("bench", rows, cols, w, [.. Enumerable.Repeat(0.01f, rows)], new float[rows]);
            var x = Enumerable.Range(0, T * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var y = new float[T * rows];
            var scratch = new QuantizedActivations(T, cols);
            var contenders = new (string Name, Action Run)[]
            {
                ("1 thread", () => { for (int j = 0; j < jobs; j++) linear.Apply(x, y, T, scratch, null); }),
                ("2 threads, helper sleeps between jobs", () => { for (int j = 0; j < jobs; j++) linear.Apply(x, y, T, scratch, parallel); }),
                ("2 threads, helper awake (burst)", () =>
                {
                    parallel.BeginBurst();
                    try { for (int j = 0; j < jobs; j++) linear.Apply(x, y, T, scratch, parallel); }
                    finally { parallel.EndBurst(); }
                }),
                ("1 thread, input quantized before", () => { for (int j = 0; j < jobs; j++) linear.Apply(x, y, T, scratch, null, inputQuantized: true); }),
                ("2 threads, input quantized before, awake", () =>
                {
                    parallel.BeginBurst();
                    try { for (int j = 0; j < jobs; j++) linear.Apply(x, y, T, scratch, parallel, inputQuantized: true); }
                    finally { parallel.EndBurst(); }
                }),
            };
            var times = contenders.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r <= rounds; r++)
                for (int c = 0; c < contenders.Length; c++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    contenders[c].Run();
                    double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / jobs;
                    if (r > 0) times[c].Add(us);   // round 0 warms up
                }
            double single = EdgeShortcut.Measure.Stats.Median(times[0]);
            for (int c = 0; c < contenders.Length; c++)
                Console.WriteLine($"| {rows} x {cols} | {T} | {contenders[c].Name} | {EdgeShortcut.Measure.Stats.Median(times[c]):F0} / {times[c].Min():F0} | {single / EdgeShortcut.Measure.Stats.Median(times[c]):F2}x |");
        }
        Console.WriteLine($"helper stalls {parallel.Stalls}, jobs run solo after them {parallel.SoloRuns}");
    }
}
