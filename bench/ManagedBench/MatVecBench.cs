using System.Diagnostics;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.ManagedBench;

/// <summary>int8 matvec throughput per kernel path and matrix size, one and two threads.</summary>
internal static class MatVecBench
{
    public static void Run()
    {
        (int Rows, int Cols)[] sizes = [(384, 128), (512, 128), (128, 512), (512, 512), (1024, 1024), (4096, 1024), (4096, 4096)];
        var paths = Enum.GetValues<Int8MatVec.Path>().Where(Int8MatVec.IsSupported).ToArray();
        Console.WriteLine("int8 matvec, best-of-15 time per call (us, calling thread's CPU time; `2 threads` = wall time of the best path split with the helper thread) and weight GB/s");
        Console.WriteLine();
        Console.WriteLine($"| rows x cols | weight bytes | {string.Join(" | ", paths)} | 2 threads | float activations ({WeightOnlyInt8MatVec.Best}) |");
        Console.WriteLine($"|---|---|{string.Concat(Enumerable.Repeat("---|", paths.Length + 2))}");
        var rng = new Random(5);
        using var parallel = new RowParallel();
        foreach (var (rows, cols) in sizes)
        {
            var w = new sbyte[rows * cols];
            rng.NextBytes((byte[])(Array)w);
            for (int i = 0; i < w.Length; i++) if (w[i] == -128) w[i] = -127;
            var scales = Enumerable.Repeat(0.01f, rows).ToArray();
            var bias = new float[rows];
            var x = Enumerable.Range(0, cols).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            var scratch = new QuantizedActivations(1, cols);
            scratch.Quantize(x, 1, cols);
            var linear = new Int8Linear("bench", rows, cols, w, scales, bias);
            var m = linear.Matrix;
            var y = new float[rows];
            var cells = new List<string>();
            foreach (var path in paths)
                cells.Add(Cell(rows, cols, () =>
                {
                    scratch.Row(0, cols, out var q, out var xScales, out var xOffsets);
                    Int8MatVec.Compute(path, m, 0, m.Groups, q, xScales, xOffsets, y);
                }));
            cells.Add((long)rows * cols >= ManagedLinear.ParallelThreshold
                ? Cell(rows, cols, () => linear.Apply(x, y, 1, scratch, parallel), timeCpu: false) : "below threshold");
            var weightOnly = new WeightOnlyInt8Linear("bench", rows, cols, w, scales, bias);
            cells.Add(Cell(rows, cols, () => weightOnly.Apply(x, y, 1, scratch, null)));
            Console.WriteLine($"| {rows} x {cols} | {rows * cols / 1024} KiB | {string.Join(" | ", cells)} |");
        }
    }

    private static string Cell(int rows, int cols, Action call, bool timeCpu = true)
    {
        // Warm up (tiered JIT) for 200 ms, then enough calls per sample for ~2 ms, 15 samples, median.
        var sw = Stopwatch.StartNew();
        int reps = 0;
        while (sw.Elapsed.TotalMilliseconds < 200) { call(); reps++; }
        reps = Math.Max(1, (int)(reps * 2 / sw.Elapsed.TotalMilliseconds));
        var samples = new List<double>();
        for (int s = 0; s < 15; s++)
        {
            double t0 = timeCpu ? ThreadClock.Seconds() : 0;
            sw.Restart();
            for (int i = 0; i < reps; i++) call();
            samples.Add((timeCpu ? ThreadClock.Seconds() - t0 : sw.Elapsed.TotalSeconds) / reps);
        }
        double t = samples.Min();   // best sample: the least disturbed by other processes on a shared machine
        return $"{t * 1e6:F2} us, {(double)rows * cols / t / 1e9:F1} GB/s";
    }
}
