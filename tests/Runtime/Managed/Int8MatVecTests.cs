using EdgeShortcut.Runtime.Managed.Kernels;
using Path = EdgeShortcut.Runtime.Managed.Kernels.Int8MatVec.Path;

namespace EdgeShortcut.Tests.Runtime.Managed;

public class Int8MatVecTests
{
    public static TheoryData<string> Paths() => [.. Enum.GetNames<Path>()];

    private static (sbyte[] W, int[] Sums, float[] Scales, sbyte[] X, float[] Bias) RandomProblem(Random rng, int rows, int cols)
    {
        var w = new sbyte[rows * cols];
        var x = new sbyte[cols];
        // Mostly random, with runs of the extremes so any saturation or sign bug shows up.
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(i % 17 == 0 ? -127 : i % 19 == 0 ? 127 : rng.Next(-127, 128));
        for (int i = 0; i < x.Length; i++) x[i] = (sbyte)(i % 5 == 0 ? 127 : i % 7 == 0 ? -127 : rng.Next(-127, 128));
        var sums = new int[rows];
        Int8MatVec.RowSums(w, cols, sums);
        var scales = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() * 0.02 + 1e-4)).ToArray();
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        return (w, sums, scales, x, bias);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_path_matches_the_scalar_reference_bit_for_bit_for_every_length_1_to_300(string pathName)
    {
        var path = Enum.Parse<Path>(pathName);
        if (!Int8MatVec.IsSupported(path))
        {
            Assert.Throws<PlatformNotSupportedException>(() => Int8MatVec.Compute(path, new sbyte[1], new int[1], new float[1], new sbyte[1], 1f, [], new float[1]));
            return;
        }
        var rng = new Random(1234);
        foreach (int rows in new[] { 1, 3, 4, 5, 8, 11 })
        {
            for (int cols = 1; cols <= 300; cols++)
            {
                var (w, sums, scales, x, bias) = RandomProblem(rng, rows, cols);
                foreach (var b in new[] { bias, Array.Empty<float>() })
                {
                    var expected = new float[rows];
                    var actual = new float[rows];
                    Int8MatVec.Compute(Path.Scalar, w, sums, scales, x, 0.0371f, b, expected);
                    Int8MatVec.Compute(path, w, sums, scales, x, 0.0371f, b, actual);
                    Assert.True(expected.AsSpan().SequenceEqual(actual), $"{path} differs at rows {rows}, cols {cols}, bias {b.Length > 0}");
                }
            }
        }
    }

    [Fact]
    public void The_scalar_reference_equals_the_formula_in_double_precision()
    {
        var rng = new Random(7);
        var (w, sums, scales, x, bias) = RandomProblem(rng, 6, 257);
        var y = new float[6];
        Int8MatVec.Compute(Path.Scalar, w, sums, scales, x, 0.5f, bias, y);
        for (int r = 0; r < 6; r++)
        {
            long acc = 0;
            for (int c = 0; c < 257; c++) acc += w[r * 257 + c] * x[c];
            double expected = acc * (0.5 * scales[r]) + bias[r];
            Assert.Equal(expected, y[r], 1e-5 * Math.Max(1, Math.Abs(expected)));
        }
    }

    [Fact]
    public void The_largest_supported_width_does_not_overflow_on_any_path()
    {
        // Worst case for the VNNI trick: (127 + 128) * 127 per column over 2^17 columns stays < 2^31.
        int cols = Int8MatVec.MaxCols;
        var w = Enumerable.Repeat((sbyte)127, cols).ToArray();
        var x = Enumerable.Repeat((sbyte)127, cols).ToArray();
        var sums = new int[1];
        Int8MatVec.RowSums(w, cols, sums);
        foreach (Path p in Enum.GetValues<Path>().Where(Int8MatVec.IsSupported))
        {
            var y = new float[1];
            Int8MatVec.Compute(p, w, sums, [1f], x, 1f, [], y);
            Assert.Equal(127f * 127f * cols, y[0]);
        }
    }

    [Fact]
    public void Mismatched_lengths_are_rejected_before_any_work()
    {
        var y = new float[2];
        Assert.Throws<ArgumentException>(() => Int8MatVec.Compute(new sbyte[5], new int[2], new float[2], new sbyte[3], 1f, [], y));
        Assert.Throws<ArgumentException>(() => Int8MatVec.Compute(new sbyte[6], new int[1], new float[2], new sbyte[3], 1f, [], y));
        Assert.Throws<ArgumentException>(() => Int8MatVec.Compute(new sbyte[6], new int[2], new float[3], new sbyte[3], 1f, [], y));
        Assert.Throws<ArgumentException>(() => Int8MatVec.Compute(new sbyte[6], new int[2], new float[2], new sbyte[3], 1f, new float[1], y));
        Assert.Throws<ArgumentException>(() => Int8MatVec.Compute(new sbyte[2 * (Int8MatVec.MaxCols + 1)], new int[2], new float[2], new sbyte[Int8MatVec.MaxCols + 1], 1f, [], y));
    }
}
