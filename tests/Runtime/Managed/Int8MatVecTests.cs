using EdgeShortcut.Runtime.Managed.Kernels;
using Path = EdgeShortcut.Runtime.Managed.Kernels.Int8MatVec.Path;

namespace EdgeShortcut.Tests.Runtime.Managed;

public class Int8MatVecTests
{
    public static TheoryData<string> Paths() => [.. Enum.GetNames<Path>()];

    private sealed record Problem(sbyte[] W, PackedInt8Matrix M, float[] X, sbyte[] Q, float[] XScales, int[] XOffsets);

    private static Problem RandomProblem(Random rng, int rows, int cols, bool bias)
    {
        var w = new sbyte[rows * cols];
        // Mostly random, with runs of the extremes so any saturation or sign bug shows up.
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(i % 17 == 0 ? -127 : i % 19 == 0 ? 127 : rng.Next(-127, 128));
        var scales = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() * 0.02 + 1e-4)).ToArray();
        var b = bias ? Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray() : [];
        var x = Enumerable.Range(0, cols).Select(i => i % 5 == 0 ? 3f : i % 7 == 0 ? -3f : (float)(rng.NextDouble() * 6 - 3)).ToArray();
        var q = new sbyte[ActivationQuantizer.PaddedLength(cols)];
        var xs = new float[ActivationQuantizer.BlockCount(cols)];
        var xo = new int[xs.Length];
        ActivationQuantizer.Quantize(x, q, xs, xo);
        return new Problem(w, new PackedInt8Matrix(w, rows, cols, scales, b), x, q, xs, xo);
    }

    private static float[] Run(Path path, Problem p)
    {
        var y = new float[p.M.Rows];
        Int8MatVec.Compute(path, p.M, 0, p.M.Groups, p.Q, p.XScales, p.XOffsets, y);
        return y;
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_path_matches_the_scalar_reference_bit_for_bit_for_every_width_1_to_300(string pathName)
    {
        var path = Enum.Parse<Path>(pathName);
        var rng = new Random(1234);
        var probe = RandomProblem(rng, 1, 1, bias: false);
        if (!Int8MatVec.IsSupported(path))
        {
            Assert.Throws<PlatformNotSupportedException>(() => Run(path, probe));
            return;
        }
        foreach (int rows in new[] { 1, 7, 8, 9, 16, 17, 24, 35 })
        {
            for (int cols = 1; cols <= 300; cols += rows > 16 ? 7 : 1)
            {
                foreach (bool bias in new[] { true, false })
                {
                    var p = RandomProblem(rng, rows, cols, bias);
                    var reference = Run(Path.Scalar, p);
                    Assert.True(reference.AsSpan().SequenceEqual(Run(path, p)), $"{path} differs at rows {rows}, cols {cols}, bias {bias}");
                    p.M.StreamsFromMemory = true;   // the one-group-at-a-time loop of weights streamed from memory
                    Assert.True(reference.AsSpan().SequenceEqual(Run(path, p)), $"{path} differs when streaming, at rows {rows}, cols {cols}, bias {bias}");
                    p.M.PrefetchesNonTemporal = true;   // the other prefetch hint of weights that pass through the caches once
                    Assert.True(reference.AsSpan().SequenceEqual(Run(path, p)), $"{path} differs with non-temporal prefetches, at rows {rows}, cols {cols}, bias {bias}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_range_of_row_groups_gives_the_scalar_bits_and_writes_only_its_own_rows(string pathName)
    {
        // A decode job hands each thread a range of groups; the AVX2 kernel reads a range as four streams a quarter apart
        // and the leftover groups one at a time. Every (start, end) of a 13-group matrix covers quarters of 0-3 groups, every
        // leftover count and ranges that do not start at group 0.
        var path = Enum.Parse<Path>(pathName);
        if (!Int8MatVec.IsSupported(path)) return;   // the unsupported case is pinned by the first test
        var p = RandomProblem(new Random(4321), 13 * PackedInt8Matrix.GroupRows - 3, 200, bias: true);
        var reference = Run(Path.Scalar, p);
        foreach (bool streamed in new[] { false, true })
        {
            p.M.StreamsFromMemory = p.M.PrefetchesNonTemporal = streamed;
            RowGroupRanges.AssertEachGivesOnlyItsRows(p.M.Groups, PackedInt8Matrix.GroupRows, reference,
                (g0, g1, y) => Int8MatVec.Compute(path, p.M, g0, g1, p.Q, p.XScales, p.XOffsets, y), $"{path} (streamed {streamed})");
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void A_minus_128_weight_from_a_hand_made_file_gives_the_exact_product_on_every_path_and_in_the_GEMM(string pathName)
    {
        // Our quantizer never writes -128, but a file may hold it. The AVX2 sign trick multiplies |w| (128 here)
        // by x * sign(w); this pins that nothing saturates or wraps, on every path and in the token-tiled GEMM.
        var path = Enum.Parse<Path>(pathName);
        if (!Int8MatVec.IsSupported(path)) return;   // the unsupported case is pinned by the test above
        var rng = new Random(128);
        foreach (int cols in new[] { 32, 70, 256 })
        {
            const int rows = 16, count = 9;
            var w = Enumerable.Range(0, rows * cols).Select(i => (sbyte)(i % 3 == 0 ? -128 : i % 3 == 1 ? 127 : rng.Next(-128, 128))).ToArray();
            var m = new PackedInt8Matrix(w, rows, cols, Enumerable.Repeat(0.01f, rows).ToArray(), []);
            int P = m.PaddedCols, blocks = P / ActivationQuantizer.BlockSize;
            var q = new sbyte[count * P]; var xs = new float[count * blocks]; var xo = new int[count * blocks];
            for (int t = 0; t < count; t++)
            {
                // Alternating +-3 saturates every activation at +-127, the worst case for the int16 pairs.
                var x = Enumerable.Range(0, cols).Select(i => (i + t) % 2 == 0 ? -3f : 3f).ToArray();
                ActivationQuantizer.Quantize(x, q.AsSpan(t * P, P), xs.AsSpan(t * blocks, blocks), xo.AsSpan(t * blocks, blocks));
            }
            var batches = Enum.GetValues<Int8MatVec.BatchTile>().Where(Int8MatVec.IsSupported).Select(tile =>
            {
                var batch = new float[count * rows];
                Int8MatVec.ComputeBatch(tile, m, 0, m.Groups, q, xs, xo, count, batch);
                return (tile, batch);
            }).ToArray();
            for (int t = 0; t < count; t++)
            {
                var reference = new float[rows];
                var onPath = new float[rows];
                Int8MatVec.Compute(Path.Scalar, m, 0, m.Groups, q.AsSpan(t * P, P), xs.AsSpan(t * blocks, blocks), xo.AsSpan(t * blocks, blocks), reference);
                Int8MatVec.Compute(path, m, 0, m.Groups, q.AsSpan(t * P, P), xs.AsSpan(t * blocks, blocks), xo.AsSpan(t * blocks, blocks), onPath);
                Assert.True(reference.AsSpan().SequenceEqual(onPath), $"{path} differs with -128 weights at cols {cols}, token {t}");
                foreach (var (tile, batch) in batches)
                    Assert.True(reference.AsSpan().SequenceEqual(batch.AsSpan(t * rows, rows)), $"the {tile} GEMM differs with -128 weights at cols {cols}, token {t}");
                for (int r = 0; r < rows; r++)
                {
                    long exact = 0;
                    for (int c = 0; c < cols; c++) exact += w[r * cols + c] * q[t * P + c];
                    Assert.Equal(exact * (double)xs[t * blocks] * 0.01, reference[r], 1e-3 * Math.Max(1, Math.Abs(exact * xs[t * blocks] * 0.01)));
                }
            }
        }
    }

    [Fact]
    public void The_scalar_reference_equals_the_blockwise_formula_in_double_precision()
    {
        var rng = new Random(7);
        var p = RandomProblem(rng, 6, 257, bias: true);
        var y = Run(Path.Scalar, p);
        for (int r = 0; r < 6; r++)
        {
            double expected = p.M.Bias[r];
            for (int c = 0; c < 257; c++) expected += (double)p.W[r * 257 + c] * p.Q[c] * p.XScales[c / 32] * p.M.Scales[r];
            Assert.Equal(expected, y[r], 1e-5 * Math.Max(1, Math.Abs(expected)));
        }
    }

    [Fact]
    public void The_product_approximates_the_float_matvec_within_the_quantization_error()
    {
        var rng = new Random(9);
        var p = RandomProblem(rng, 40, 200, bias: false);
        var y = Run(Int8MatVec.Best, p);
        for (int r = 0; r < 40; r++)
        {
            double exact = 0, bound = 0;
            for (int c = 0; c < 200; c++)
            {
                exact += p.W[r * 200 + c] * p.M.Scales[r] * (double)p.X[c];
                bound += Math.Abs(p.W[r * 200 + c] * p.M.Scales[r]) * 0.5 * p.XScales[c / 32];   // half a step per activation
            }
            Assert.InRange(y[r], exact - bound - 1e-4, exact + bound + 1e-4);
        }
    }

    [Fact]
    public void Row_groups_computed_separately_equal_the_whole_product_and_leave_other_rows_alone()
    {
        var p = RandomProblem(new Random(11), 37, 100, bias: true);   // 5 groups, the last one partial
        var whole = Run(Int8MatVec.Best, p);
        var parts = Enumerable.Repeat(float.NaN, 37).ToArray();
        Int8MatVec.Compute(p.M, 3, 5, p.Q, p.XScales, p.XOffsets, parts);
        Assert.All(parts.Take(24), v => Assert.True(float.IsNaN(v)));
        Int8MatVec.Compute(p.M, 0, 3, p.Q, p.XScales, p.XOffsets, parts);
        Assert.Equal(whole, parts);
    }

    [Fact]
    public void Packing_keeps_every_weight_and_pads_with_zeros()
    {
        var p = RandomProblem(new Random(5), 13, 45, bias: false);
        for (int r = 0; r < 13; r++)
            for (int c = 0; c < 45; c++)
                Assert.Equal(p.W[r * 45 + c], p.M[r, c]);
        Assert.Equal(64, p.M.PaddedCols);
        Assert.Equal(0, p.M[15, 60]);
        Assert.Equal(0, p.M[3, 50]);
    }

    [Fact]
    public void Mismatched_lengths_are_rejected_before_any_work()
    {
        var p = RandomProblem(new Random(2), 10, 40, bias: false);
        var y = new float[10];
        Assert.Throws<ArgumentException>(() => Int8MatVec.Compute(p.M, 0, 2, p.Q.AsSpan(0, 40), p.XScales, p.XOffsets, y));
        Assert.Throws<ArgumentException>(() => Int8MatVec.Compute(p.M, 0, 2, p.Q, p.XScales.AsSpan(1), p.XOffsets, y));
        Assert.Throws<ArgumentException>(() => Int8MatVec.Compute(p.M, 0, 2, p.Q, p.XScales, p.XOffsets, new float[9]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Int8MatVec.Compute(p.M, 0, 3, p.Q, p.XScales, p.XOffsets, y));
        Assert.Throws<ArgumentException>(() => new PackedInt8Matrix(new sbyte[10], 2, 6, new float[2], []));
        Assert.Throws<ArgumentException>(() => new PackedInt8Matrix(new sbyte[12], 2, 6, new float[3], []));
        Assert.Throws<ArgumentException>(() => new PackedInt8Matrix(new sbyte[12], 2, 6, new float[2], new float[1]));
    }
}
