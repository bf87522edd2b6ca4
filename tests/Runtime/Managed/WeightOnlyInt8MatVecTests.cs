using EdgeShortcut.Runtime.Managed.Kernels;
using Path = EdgeShortcut.Runtime.Managed.Kernels.WeightOnlyInt8MatVec.Path;

namespace EdgeShortcut.Tests.Runtime.Managed;

public class WeightOnlyInt8MatVecTests
{
    public static TheoryData<string> Paths() => [.. Enum.GetNames<Path>()];

    private sealed record Problem(sbyte[] W, ColumnPackedInt8Matrix M, float[] X);

    private static Problem RandomProblem(Random rng, int rows, int cols)
    {
        var w = new sbyte[rows * cols];
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(i % 13 == 0 ? -127 : i % 11 == 0 ? 127 : rng.Next(-127, 128));
        var scales = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() * 0.02 + 1e-4)).ToArray();
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var x = Enumerable.Range(0, cols).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        return new Problem(w, new ColumnPackedInt8Matrix(w, rows, cols, scales, bias), x);
    }

    private static float[] Run(Path path, Problem p)
    {
        var y = new float[p.M.Rows];
        WeightOnlyInt8MatVec.Compute(path, p.M, 0, p.M.Groups, p.X, y);
        return y;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_path_matches_the_scalar_reference_bit_for_bit(string pathName)
    {
        var path = Enum.Parse<Path>(pathName);
        var rng = new Random(21);
        if (!WeightOnlyInt8MatVec.IsSupported(path))
        {
            Assert.Throws<PlatformNotSupportedException>(() => Run(path, RandomProblem(rng, 1, 1)));
            return;
        }
        foreach (int rows in new[] { 1, 15, 16, 17, 32, 33, 48, 70 })
            for (int cols = 1; cols <= 200; cols += rows > 32 ? 13 : 1)
            {
                var p = RandomProblem(rng, rows, cols);
                var reference = Run(Path.Scalar, p);
                Assert.True(reference.AsSpan().SequenceEqual(Run(path, p)), $"{path} differs at rows {rows}, cols {cols}");
                p.M.PrefetchesNonTemporal = true;   // streamed weights: the same loop with the other prefetch hint
                Assert.True(reference.AsSpan().SequenceEqual(Run(path, p)), $"{path} differs with non-temporal prefetches at rows {rows}, cols {cols}");
            }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_range_of_row_groups_gives_the_scalar_bits_and_writes_only_its_own_rows(string pathName)
    {
        // A decode job hands each thread a range of groups. Every (start, end) of a 13-group matrix, at widths of a few
        // columns to a few hundred, with and without 1-3 columns past the last step of four.
        var path = Enum.Parse<Path>(pathName);
        if (!WeightOnlyInt8MatVec.IsSupported(path)) return;   // the unsupported case is pinned by the first test
        var rng = new Random(77);
        foreach (int cols in new[] { 3, 64, 150, 203 })
        {
            var p = RandomProblem(rng, 13 * ColumnPackedInt8Matrix.GroupRows - 5, cols);
            var reference = Run(Path.Scalar, p);
            foreach (bool streamed in new[] { false, true })
            {
                p.M.PrefetchesNonTemporal = streamed;
                RowGroupRanges.AssertEachGivesOnlyItsRows(p.M.Groups, ColumnPackedInt8Matrix.GroupRows, reference,
                    (g0, g1, y) => WeightOnlyInt8MatVec.Compute(path, p.M, g0, g1, p.X, y), $"{path} (cols {cols}, streamed {streamed})");
            }
        }
    }

    [Fact]
    public void The_result_is_the_dequantized_float_product()
    {
        var p = RandomProblem(new Random(4), 20, 130);
        var y = Run(WeightOnlyInt8MatVec.Best, p);
        for (int r = 0; r < 20; r++)
        {
            double expected = p.M.Bias[r];
            for (int k = 0; k < 130; k++) expected += p.W[r * 130 + k] * (double)p.M.Scales[r] * p.X[k];
            Assert.Equal(expected, y[r], 1e-5 * Math.Max(1, Math.Abs(expected)));
        }
    }

    [Fact]
    public void Groups_computed_separately_equal_the_whole_product_and_leave_other_rows_alone()
    {
        var p = RandomProblem(new Random(6), 70, 50);   // 5 groups, the last one partial
        var whole = Run(WeightOnlyInt8MatVec.Best, p);
        var parts = new float[70];
        Array.Fill(parts, float.NaN);
        WeightOnlyInt8MatVec.Compute(p.M, 1, 5, p.X, parts);
        Assert.All(parts.Take(16), v => Assert.True(float.IsNaN(v)));
        WeightOnlyInt8MatVec.Compute(p.M, 0, 1, p.X, parts);
        Assert.Equal(whole, parts);
    }

    [Fact]
    public void A_batch_of_tokens_gives_exactly_one_call_per_token()
    {
        var rng = new Random(10);
        foreach (var (rows, cols, count) in new[] { (37, 130, 5), (16, 3, 2), (64, 128, 7), (5, 1, 3) })
        {
            var p = RandomProblem(rng, rows, cols);
            var xs = Enumerable.Range(0, count * cols).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            var batch = new float[count * rows];
            WeightOnlyInt8MatVec.ComputeBatch(p.M, 0, p.M.Groups, xs, count, batch);
            for (int t = 0; t < count; t++)
            {
                var one = new float[rows];
                WeightOnlyInt8MatVec.Compute(p.M, 0, p.M.Groups, xs.AsSpan(t * cols, cols), one);
                Assert.Equal(one, batch.AsSpan(t * rows, rows).ToArray());
            }
        }
    }

    [Fact]
    public void Mismatched_shapes_are_rejected()
    {
        var p = RandomProblem(new Random(8), 20, 10);
        Assert.Throws<ArgumentException>(() => WeightOnlyInt8MatVec.Compute(p.M, 0, 2, p.X.AsSpan(1), new float[20]));
        Assert.Throws<ArgumentException>(() => WeightOnlyInt8MatVec.Compute(p.M, 0, 2, p.X, new float[19]));
        Assert.Throws<ArgumentOutOfRangeException>(() => WeightOnlyInt8MatVec.Compute(p.M, 0, 3, p.X, new float[20]));
        Assert.Throws<ArgumentException>(() => new ColumnPackedInt8Matrix(new sbyte[5], 2, 3, new float[2], []));
        Assert.Throws<ArgumentException>(() => new ColumnPackedInt8Matrix(new sbyte[6], 2, 3, new float[1], []));
        Assert.Throws<ArgumentException>(() => new ColumnPackedInt8Matrix(new sbyte[6], 2, 3, new float[2], new float[1]));
    }
}
