using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13, prefill as a GEMM: the token-tiled kernels give every token exactly the outputs of the scalar
/// per-token reference (bit for bit), for token counts around the tile size and widths with partial groups and blocks.</summary>
public class MatMulBatchTests
{
    private static readonly int[] Counts = [1, 2, 3, 4, 5, 7, 8, 9, 13, 32];

    private static (sbyte[] W, float[] Scales, float[] Bias, float[] X) Random(int rows, int cols, int count, int seed)
    {
        var rng = new Random(seed);
        var w = new sbyte[rows * cols];
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(i % 17 == 0 ? -127 : i % 19 == 0 ? 127 : rng.Next(-127, 128));
        var scales = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() * 0.02 + 1e-4)).ToArray();
        var bias = Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        // Each token its own amplitude (and so its own block scales): a kernel that applied one token's scale to another
        // would not give the same bits.
        var x = Enumerable.Range(0, count * cols).Select(i => (1 + i / cols % 7 * 0.375f) * (i % 5 == 0 ? 3f : (float)(rng.NextDouble() * 6 - 3))).ToArray();
        return (w, scales, bias, x);
    }

    [Theory]
    [InlineData(8, 32)]
    [InlineData(17, 70)]
    [InlineData(64, 256)]
    [InlineData(35, 300)]
    public void The_int8_GEMM_gives_every_token_the_scalar_references_outputs_bit_for_bit(int rows, int cols)
    {
        var tiles = Enum.GetValues<Int8MatVec.BatchTile>().Where(Int8MatVec.IsSupported).ToArray();
        Assert.Contains(Int8MatVec.BestBatchTile, tiles);
        foreach (var tile in tiles)
        foreach (int count in Counts)
        {
            var (w, scales, bias, x) = Random(rows, cols, count, seed: rows * 1000 + cols + count);
            var m = new PackedInt8Matrix(w, rows, cols, scales, bias);
            int P = m.PaddedCols, blocks = P / ActivationQuantizer.BlockSize;
            var q = new sbyte[count * P];
            var xs = new float[count * blocks];
            var xo = new int[count * blocks];
            for (int t = 0; t < count; t++)
                ActivationQuantizer.Quantize(x.AsSpan(t * cols, cols), q.AsSpan(t * P, P), xs.AsSpan(t * blocks, blocks), xo.AsSpan(t * blocks, blocks));
            var batch = new float[count * rows];
            Int8MatVec.ComputeBatch(tile, m, 0, m.Groups, q, xs, xo, count, batch);
            for (int t = 0; t < count; t++)
            {
                var one = new float[rows];
                Int8MatVec.Compute(Int8MatVec.Path.Scalar, m, 0, m.Groups, q.AsSpan(t * P, P), xs.AsSpan(t * blocks, blocks), xo.AsSpan(t * blocks, blocks), one);
                Assert.True(one.AsSpan().SequenceEqual(batch.AsSpan(t * rows, rows)), $"{tile} tile: token {t} of {count} differs ({rows}x{cols})");
            }
            // A group range leaves the other rows untouched, as the per-token kernel does.
            if (m.Groups > 1)
            {
                var part = new float[count * rows];
                Int8MatVec.ComputeBatch(tile, m, 1, m.Groups, q, xs, xo, count, part);
                for (int t = 0; t < count; t++)
                    Assert.True(part.AsSpan(t * rows, 8).SequenceEqual(new float[8]) && part.AsSpan(t * rows + 8, rows - 8).SequenceEqual(batch.AsSpan(t * rows + 8, rows - 8)));
            }
        }
    }

    [Theory]
    [InlineData(16, 32)]
    [InlineData(17, 70)]
    [InlineData(64, 256)]
    [InlineData(33, 301)]
    public void The_weight_only_GEMM_gives_every_token_the_scalar_references_outputs_bit_for_bit(int rows, int cols)
    {
        foreach (int count in Counts)
        {
            var (w, scales, bias, x) = Random(rows, cols, count, seed: rows * 1000 + cols + count);
            var m = new ColumnPackedInt8Matrix(w, rows, cols, scales, bias);
            var batch = new float[count * rows];
            WeightOnlyInt8MatVec.ComputeBatch(m, 0, m.Groups, x, count, batch);
            for (int t = 0; t < count; t++)
            {
                var one = new float[rows];
                WeightOnlyInt8MatVec.Compute(WeightOnlyInt8MatVec.Path.Scalar, m, 0, m.Groups, x.AsSpan(t * cols, cols), one);
                Assert.True(one.AsSpan().SequenceEqual(batch.AsSpan(t * rows, rows)), $"token {t} of {count} differs ({rows}x{cols})");
            }
        }
    }
}
