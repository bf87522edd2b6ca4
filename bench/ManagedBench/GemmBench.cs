using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// Prefill's matrix products, one thread: <c>tokens</c> token rows (default 32) through one Linear,
/// as 32 per-token matvecs against the token-tiled GEMM (<c>ComputeBatch</c>), in both activation modes,
/// interleaved, thread CPU time (so other processes on a busy machine count less). GMAC/s = rows x cols x tokens / time.
/// </summary>
internal static class GemmBench
{
    /// <summary>The default shapes: the 25M and 85M models' matrices (rows x cols).</summary>
    public static readonly (int Rows, int Cols)[] DefaultShapes = [(512, 512), (2048, 512), (512, 2048), (3072, 768), (768, 3072)];

    public static void Run(int rounds, (int Rows, int Cols)[] shapes, int T = 32)
    {
        Console.WriteLine($"| rows x cols | tokens | mode | kernel | us (GMAC/s) | vs per-token |   (thread CPU, best of {rounds}, contenders interleaved, load average {LoadAverage.Read()})");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (rows, cols) in shapes)
        {
            var rng = new Random(5);
            var w = new sbyte[rows * cols];
            for (int i = 0; i < w.Length; i++) w[i] = (sbyte)rng.Next(-127, 128);
            var scales = Enumerable.Range(0, rows).Select(_ => 0.01f).ToArray();
            var bias = new float[rows];
            var x = Enumerable.Range(0, T * cols).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var y = new float[T * rows];

            var packed = new PackedInt8Matrix(w, rows, cols, scales, bias);
            int P = packed.PaddedCols, blocks = P / ActivationQuantizer.BlockSize;
            var q = new sbyte[T * P]; var xs = new float[T * blocks]; var xo = new int[T * blocks];
            for (int t = 0; t < T; t++) ActivationQuantizer.Quantize(x.AsSpan(t * cols, cols), q.AsSpan(t * P, P), xs.AsSpan(t * blocks, blocks), xo.AsSpan(t * blocks, blocks));
            var column = new ColumnPackedInt8Matrix(w, rows, cols, scales, bias);

            var int8 = new List<(string, Action)>
            {
                ("per-token matvecs", () => { for (int t = 0; t < T; t++) Int8MatVec.Compute(packed, 0, packed.Groups, q.AsSpan(t * P, P), xs.AsSpan(t * blocks, blocks), xo.AsSpan(t * blocks, blocks), y.AsSpan(t * rows, rows)); }),
            };
            foreach (var tile in Enum.GetValues<Int8MatVec.BatchTile>().Where(t => t != Int8MatVec.BatchTile.None && Int8MatVec.IsSupported(t)))
                int8.Add(($"GEMM, {tile} tile", () => Int8MatVec.ComputeBatch(tile, packed, 0, packed.Groups, q, xs, xo, T, y)));
            Report(rows, cols, T, "int8 x int8", rounds, int8);
            Report(rows, cols, T, "int8 weights x float32", rounds,
            [
                ("per-token matvecs", () => { for (int t = 0; t < T; t++) WeightOnlyInt8MatVec.Compute(column, 0, column.Groups, x.AsSpan(t * cols, cols), y.AsSpan(t * rows, rows)); }),
                ("GEMM", () => WeightOnlyInt8MatVec.ComputeBatch(column, 0, column.Groups, x, T, y)),
            ]);
        }
    }

    /// <summary>Times every contender once per round, in turn, and prints the best of the measured rounds.</summary>
    private static void Report(int rows, int cols, int tokens, string mode, int rounds, List<(string Name, Action Run)> contenders)
    {
        var best = contenders.Select(_ => double.MaxValue).ToArray();
        for (int r = 0; r <= rounds; r++)
        {
            for (int c = 0; c < contenders.Count; c++)
            {
                double us = Time(contenders[c].Run);
                if (r > 0) best[c] = Math.Min(best[c], us);   // round 0 warms up
            }
        }
        double macs = (double)rows * cols * tokens;
        for (int c = 0; c < contenders.Count; c++)
            Console.WriteLine($"| {rows} x {cols} | {tokens} | {mode} | {contenders[c].Name} | {best[c]:F0} ({macs / best[c] / 1e3:F1}) | {best[0] / best[c]:F2}x |");
    }

    private static double Time(Action a)
    {
        double t0 = ThreadClock.Seconds();
        a();
        return (ThreadClock.Seconds() - t0) * 1e6;
    }
}
