using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

// The prefill GEMM's tile for CPUs with AVX-VNNI and AVX-512 (Zen 4/5, Sapphire Rapids): the products of
// Tile8TwoGroupsVnni, 256-bit vpdpbusd (.NET 10 has no 512-bit VNNI intrinsic), with the bookkeeping around them cut:
// - the activations of each 8-token tile are interleaved (InterleavedTiles), xi[i * 8 + t] = x[t, 4i..4i+3], so a
//   step's eight broadcasts read one 32-byte line at constant offsets, with no per-token row arithmetic in the loop;
// - a token's two row groups share its block scale and offset, so their epilogue is one 512-bit (sub, convert,
//   multiply-add) instead of two 256-bit ones, on 8 float sums kept in one aligned 512-byte buffer instead of 16.
// Each lane's arithmetic is Tile8TwoGroupsVnni's (exact integer sums, then f = fma((float)(s - offset), scale, f) block
// by block), so the bits are those of the per-token paths.
internal static partial class Int8MatVec
{
    [ThreadStatic] private static InterleavedTiles? t_tiles;

    /// <summary>
    /// The whole tiles of <paramref name="count"/> quantized token rows laid out for the engine's tile
    /// (<see cref="InterleavedTiles"/> for <see cref="BatchTile.AvxVnni512"/>, <see cref="WinogradTiles"/> for
    /// <see cref="BatchTile.Avx2Winograd"/>) in the calling thread's buffer (valid until its next call here), or null when
    /// the tile reads the rows as they are. A Linear prepares its tokens once and passes them to every row chunk's
    /// <see cref="ComputeBatch(PackedInt8Matrix, int, int, ReadOnlySpan{sbyte}, ReadOnlySpan{float}, ReadOnlySpan{int}, int, Span{float}, PreparedTiles?)"/>:
    /// interleaving per chunk cost a fifth of the GEMM.
    /// </summary>
    public static PreparedTiles? PrepareBatch(ReadOnlySpan<sbyte> x, ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, int count, int paddedCols) =>
        PrepareBatch(BestBatchTile, x, xScales, xOffsets, count, paddedCols);

    /// <summary>As above for a chosen <paramref name="tile"/> (tests pin each).</summary>
    public static PreparedTiles? PrepareBatch(BatchTile tile, ReadOnlySpan<sbyte> x, ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, int count, int paddedCols) =>
        tile == BatchTile.AvxVnni512 && count >= WideTileTokens ? Interleave(x, xScales, xOffsets, count, paddedCols)
        : tile == BatchTile.Avx2Winograd && count >= BatchTileTokens ? PrepareWinograd(x, count, paddedCols)
        : null;

    private static InterleavedTiles Interleave(ReadOnlySpan<sbyte> x, ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, int count, int paddedCols)
    {
        var tiles = t_tiles ??= new InterleavedTiles();
        tiles.Fill(x, xScales, xOffsets, count, paddedCols);
        return tiles;
    }

    /// <summary>Eight tokens x two row groups per pass, as <see cref="Tile8TwoGroupsVnni"/>, on tile <paramref name="k"/>
    /// of <paramref name="tiles"/>. An odd last group runs the AVX2 tile on the plain rows <paramref name="x"/> (same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Tile8TwoGroupsVnni512(PackedInt8Matrix m, int g0, int g1, InterleavedTiles tiles, int k,
        ReadOnlySpan<sbyte> x, ReadOnlySpan<float> xScales, Span<float> y)
    {
        int P = m.PaddedCols, blocks = P / ActivationQuantizer.BlockSize, rows = m.Rows;
        if (tiles.PaddedCols != P || k >= tiles.Tiles) throw new ArgumentException("The interleaved tiles do not match this matrix.", nameof(tiles));
        nint groupBytes = (nint)P * PackedInt8Matrix.GroupRows;
        ref byte w0 = ref m.Data.Reference;
        ref int xTile = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(tiles.Quads), (nint)k * WideTileTokens * (P / 4));
        ref float scTile = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(tiles.Scales), (nint)k * WideTileTokens * blocks);
        ref int ofTile = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(tiles.Offsets), (nint)k * WideTileTokens * blocks);
        // The 8 float sums on a 64-byte boundary (.NET aligns a stackalloc to less): a 512-bit sum straddling two cache
        // lines is stored and reloaded every block.
        byte* raw = stackalloc byte[8 * 64 + 63];
        var f = new Span<Vector512<float>>((void*)(((nint)raw + 63) & ~(nint)63), 8);
        int g = g0;
        for (; g + 2 <= g1; g += 2)
        {
            ref byte wa = ref Unsafe.Add(ref w0, g * groupBytes);
            ref int xs = ref xTile;
            ref float sc = ref scTile;
            ref int of = ref ofTile;
            f.Clear();
            for (int b = 0; b < blocks; b++)
            {
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
                Vector256<int> t0 = default, t1 = default, t2 = default, t3 = default, t4 = default, t5 = default, t6 = default, t7 = default;
                ref byte wj = ref wa;
                ref int xj = ref xs;
                for (int j = 0; j < 8; j++)
                {
                    var w = Vector256.LoadUnsafe(ref wj);
                    var v = Vector256.LoadUnsafe(ref Unsafe.Add(ref wj, groupBytes));
                    var xt = Vector256.Create(xj).AsSByte();
                    s0 = AvxVnni.MultiplyWideningAndAdd(s0, w, xt); t0 = AvxVnni.MultiplyWideningAndAdd(t0, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 1)).AsSByte();
                    s1 = AvxVnni.MultiplyWideningAndAdd(s1, w, xt); t1 = AvxVnni.MultiplyWideningAndAdd(t1, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 2)).AsSByte();
                    s2 = AvxVnni.MultiplyWideningAndAdd(s2, w, xt); t2 = AvxVnni.MultiplyWideningAndAdd(t2, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 3)).AsSByte();
                    s3 = AvxVnni.MultiplyWideningAndAdd(s3, w, xt); t3 = AvxVnni.MultiplyWideningAndAdd(t3, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 4)).AsSByte();
                    s4 = AvxVnni.MultiplyWideningAndAdd(s4, w, xt); t4 = AvxVnni.MultiplyWideningAndAdd(t4, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 5)).AsSByte();
                    s5 = AvxVnni.MultiplyWideningAndAdd(s5, w, xt); t5 = AvxVnni.MultiplyWideningAndAdd(t5, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 6)).AsSByte();
                    s6 = AvxVnni.MultiplyWideningAndAdd(s6, w, xt); t6 = AvxVnni.MultiplyWideningAndAdd(t6, v, xt);
                    xt = Vector256.Create(Unsafe.Add(ref xj, 7)).AsSByte();
                    s7 = AvxVnni.MultiplyWideningAndAdd(s7, w, xt); t7 = AvxVnni.MultiplyWideningAndAdd(t7, v, xt);
                    wj = ref Unsafe.Add(ref wj, 32);
                    xj = ref Unsafe.Add(ref xj, 8);
                }
                f[0] = PairEpilogue(s0, t0, ref sc, ref of, 0, f[0]);
                f[1] = PairEpilogue(s1, t1, ref sc, ref of, 1, f[1]);
                f[2] = PairEpilogue(s2, t2, ref sc, ref of, 2, f[2]);
                f[3] = PairEpilogue(s3, t3, ref sc, ref of, 3, f[3]);
                f[4] = PairEpilogue(s4, t4, ref sc, ref of, 4, f[4]);
                f[5] = PairEpilogue(s5, t5, ref sc, ref of, 5, f[5]);
                f[6] = PairEpilogue(s6, t6, ref sc, ref of, 6, f[6]);
                f[7] = PairEpilogue(s7, t7, ref sc, ref of, 7, f[7]);
                wa = ref Unsafe.Add(ref wa, 256);
                xs = ref Unsafe.Add(ref xs, 64);
                sc = ref Unsafe.Add(ref sc, 8);
                of = ref Unsafe.Add(ref of, 8);
            }
            int r0 = g * PackedInt8Matrix.GroupRows;
            for (int t = 0; t < WideTileTokens; t++)
            {
                var yt = y.Slice(t * rows, rows);
                RowEpilogue.Store8(f[t].GetLower(), m.Scales, m.Bias, r0, yt);
                RowEpilogue.Store8(f[t].GetUpper(), m.Scales, m.Bias, r0 + PackedInt8Matrix.GroupRows, yt);
            }
        }
        if (g < g1) Tile8Avx2(m, g, g1, x, xScales, y);
    }

    /// <summary>Token t's block epilogue for both row groups at once (lanes 0-7: the first group, 8-15: the second):
    /// <c>f = fma((float)(s - offset), scale, f)</c> with the token's block offset and scale at <c>t</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> PairEpilogue(Vector256<int> first, Vector256<int> second, ref float scales, ref int offsets, int t, Vector512<float> f) =>
        Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(Avx512F.InsertVector256(first.ToVector512Unsafe(), second, 1) - Vector512.Create(Unsafe.Add(ref offsets, t))),
            Vector512.Create(Unsafe.Add(ref scales, t)), f);
}

/// <summary>
/// Quantized token rows regrouped for <see cref="Int8MatVec.BatchTile.AvxVnni512"/>: for each whole tile of 8 tokens,
/// the activation quads <c>[PaddedCols / 4, 8]</c>, block scales and offsets <c>[blocks, 8]</c> (token t of step i at
/// <c>i * 8 + t</c>).
/// </summary>
internal sealed class InterleavedTiles : PreparedTiles
{
    /// <summary>Activation quads (4 int8 values each), tile after tile.</summary>
    public int[] Quads { get; private set; } = [];
    /// <summary>Block scales, tile after tile.</summary>
    public float[] Scales { get; private set; } = [];
    /// <summary>Block offsets, tile after tile.</summary>
    public int[] Offsets { get; private set; } = [];

    /// <summary>Interleaves the whole tiles of <paramref name="count"/> rows <c>x [count, paddedCols]</c>, scales and
    /// offsets <c>[count, paddedCols / 32]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Fill(ReadOnlySpan<sbyte> x, ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, int count, int paddedCols)
    {
        const int tile = Int8MatVec.WideTileTokens;
        int quads = paddedCols / 4, blocks = paddedCols / ActivationQuantizer.BlockSize, tiles = count / tile;
        if (paddedCols % ActivationQuantizer.BlockSize != 0 || x.Length < (long)count * paddedCols || xScales.Length < (long)count * blocks || xOffsets.Length < (long)count * blocks)
            throw new ArgumentException($"x, its scales and offsets must hold {count} rows of {paddedCols} (a multiple of {ActivationQuantizer.BlockSize}).", nameof(x));
        if (Quads.Length < tiles * tile * quads) Quads = new int[tiles * tile * quads];
        if (Scales.Length < tiles * tile * blocks) { Scales = new float[tiles * tile * blocks]; Offsets = new int[tiles * tile * blocks]; }
        Tiles = tiles;
        PaddedCols = paddedCols;
        var xq = MemoryMarshal.Cast<sbyte, int>(x[..(count * paddedCols)]);
        for (int k = 0; k < tiles; k++)
        {
            Transpose(xq.Slice(k * tile * quads, tile * quads), quads, Quads.AsSpan(k * tile * quads, tile * quads));
            Transpose(xScales.Slice(k * tile * blocks, tile * blocks), blocks, Scales.AsSpan(k * tile * blocks, tile * blocks));
            Transpose(xOffsets.Slice(k * tile * blocks, tile * blocks), blocks, Offsets.AsSpan(k * tile * blocks, tile * blocks));
        }
    }

    /// <summary><c>destination[i * 8 + t] = source[t * rowLength + i]</c> for 8 rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose<T>(ReadOnlySpan<T> source, int rowLength, Span<T> destination) where T : unmanaged
    {
        ref T s = ref MemoryMarshal.GetReference(source);
        ref T d = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i < rowLength; i++)
        {
            ref T column = ref Unsafe.Add(ref s, i);
            ref T row = ref Unsafe.Add(ref d, i * Int8MatVec.WideTileTokens);
            for (int t = 0; t < Int8MatVec.WideTileTokens; t++) Unsafe.Add(ref row, t) = Unsafe.Add(ref column, t * rowLength);
        }
    }
}
