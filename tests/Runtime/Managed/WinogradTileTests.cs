using System.Runtime.Intrinsics.X86;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13, the AVX2 prefill GEMM with Winograd's inner product (<c>Int8MatVec.BatchWinograd.cs</c>): its per-row
/// terms, tokens prepared once for every row chunk, and which tile the engine runs. Its bits against the per-token
/// reference are pinned with every other tile in <see cref="MatMulBatchTests"/> and <see cref="Int8MatVecTests"/>.</summary>
public class WinogradTileTests
{
    private static PackedInt8Matrix RandomMatrix(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var w = Enumerable.Range(0, rows * cols).Select(i => (sbyte)(i % 7 == 0 ? -128 : i % 11 == 0 ? 127 : rng.Next(-128, 128))).ToArray();
        return new PackedInt8Matrix(w, rows, cols, Enumerable.Repeat(0.01f, rows).ToArray(), []);
    }

    [Fact]
    public void Row_pair_terms_are_each_rows_blockwise_sums_of_neighbouring_weight_products()
    {
        if (!Avx2.IsSupported) return;   // the tile and its terms exist only on AVX2
        var m = RandomMatrix(rows: 20, cols: 70, seed: 3);   // a partial group and a padded block
        int blocks = m.PaddedCols / ActivationQuantizer.BlockSize;
        var terms = Int8MatVec.RowPairTerms(m, 1, 3).AsSpan(0, 2 * blocks * 8).ToArray();
        for (int g = 1; g < 3; g++)
            for (int b = 0; b < blocks; b++)
                for (int rr = 0; rr < 8; rr++)
                {
                    int row = 8 * g + rr, expected = 0;
                    for (int c = 32 * b; c < 32 * b + 32; c += 2)
                        expected += row < m.Rows ? W(m, row, c) * W(m, row, c + 1) : 0;
                    Assert.Equal(expected, terms[((g - 1) * blocks + b) * 8 + rr]);
                }
    }

    private static int W(PackedInt8Matrix m, int row, int col) => col < m.Cols ? m[row, col] : 0;

    [Fact]
    public void Tokens_prepared_once_give_every_row_chunk_the_bits_of_an_unprepared_product()
    {
        if (!Avx2.IsSupported) return;
        var m = RandomMatrix(rows: 40, cols: 96, seed: 5);
        const int count = 10;   // two whole 4-token tiles and two tokens after them
        var (q, xs, xo) = Quantized(m, count, seed: 6);
        var whole = new float[count * m.Rows];
        Int8MatVec.ComputeBatch(Int8MatVec.BatchTile.Avx2Winograd, m, 0, m.Groups, q, xs, xo, count, whole);

        var prepared = Int8MatVec.PrepareBatch(Int8MatVec.BatchTile.Avx2Winograd, q, xs, xo, count, m.PaddedCols);
        Assert.IsType<WinogradTiles>(prepared);
        var chunked = new float[count * m.Rows];
        foreach (var (g0, g1) in new[] { (0, 2), (2, 3), (3, 5) })   // even, odd and the last chunk
            Int8MatVec.ComputeBatch(Int8MatVec.BatchTile.Avx2Winograd, m, g0, g1, q, xs, xo, count, chunked, prepared);
        Assert.Equal(whole, chunked);
    }

    [Fact]
    public void Tokens_prepared_for_another_count_are_refused()
    {
        if (!Avx2.IsSupported) return;
        var m = RandomMatrix(rows: 16, cols: 64, seed: 7);
        var (q, xs, xo) = Quantized(m, 12, seed: 8);
        var prepared = Int8MatVec.PrepareBatch(Int8MatVec.BatchTile.Avx2Winograd, q, xs, xo, 12, m.PaddedCols);
        var y = new float[8 * m.Rows];
        Assert.Throws<ArgumentException>(() => Int8MatVec.ComputeBatch(Int8MatVec.BatchTile.Avx2Winograd, m, 0, m.Groups, q, xs, xo, 8, y, prepared));
    }

    [Fact]
    public void A_CPU_with_AVX2_and_no_VNNI_runs_the_Winograd_tile()
    {
        if (!Avx2.IsSupported || AvxVnni.IsSupported) return;   // VNNI CPUs run a VNNI tile (MatMulBatchTests pins it is supported)
        Assert.Equal(Int8MatVec.BatchTile.Avx2Winograd, Int8MatVec.BestBatchTile);
    }

    private static (sbyte[] Q, float[] Scales, int[] Offsets) Quantized(PackedInt8Matrix m, int count, int seed)
    {
        var rng = new Random(seed);
        int P = m.PaddedCols, blocks = P / ActivationQuantizer.BlockSize;
        var q = new sbyte[count * P]; var xs = new float[count * blocks]; var xo = new int[count * blocks];
        for (int t = 0; t < count; t++)
        {
            var x = Enumerable.Range(0, m.Cols).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
            ActivationQuantizer.Quantize(x, q.AsSpan(t * P, P), xs.AsSpan(t * blocks, blocks), xo.AsSpan(t * blocks, blocks));
        }
        return (q, xs, xo);
    }
}
