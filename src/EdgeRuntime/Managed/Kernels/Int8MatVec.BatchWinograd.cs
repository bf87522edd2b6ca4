using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

// The AVX2 GEMM tile with half the multiplies (Winograd's 1968 inner product). Without VNNI an int8 product costs two
// instructions on the one pipe that multiplies integers (vpmaddubsw, then vpmaddwd to widen: 16 multiply-adds a cycle,
// `ManagedBench ports`), while the three other vector pipes mostly wait. For each pair of columns (2i, 2i+1)
//   x_2i w_2i + x_2i+1 w_2i+1 = (x_2i + w_2i+1)(x_2i+1 + w_2i) - x_2i x_2i+1 - w_2i w_2i+1,
// so one int16 vpmaddwd of two sums, built by adds that issue on any of three pipes, gives four products of each of 8
// rows. The last two terms are per token (WinogradTiles, once per Linear) and per row (RowPairTerms, once per call for
// its row groups, which every token tile then reuses). Every step is exact integer arithmetic, so each block sum, and the
// float epilogue after it, are bit-identical to the other tiles'. Zen 2: 50-53 GMAC/s on one thread against 44-46 for the
// Avx2 tile (`ManagedBench gemm`).
internal static partial class Int8MatVec
{
    [ThreadStatic] private static WinogradTiles? t_winogradTiles;
    [ThreadStatic] private static int[]? t_rowPairTerms;

    private static WinogradTiles PrepareWinograd(ReadOnlySpan<sbyte> x, int count, int paddedCols)
    {
        var tiles = t_winogradTiles ??= new WinogradTiles();
        tiles.Fill(x, count, paddedCols);
        return tiles;
    }

    /// <summary>Winograd's row terms of groups <paramref name="g0"/>..<paramref name="g1"/>-1, <c>[g1 - g0, PaddedCols / 32, 8]</c>:
    /// per row and activation block, <c>sum over the block's column pairs of w[r, 2i] w[r, 2i+1]</c>, in the calling thread's
    /// buffer (valid until its next call here). One pass over the groups' weights, which the GEMM then reads once per token tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int[] RowPairTerms(PackedInt8Matrix m, int g0, int g1)
    {
        if (!Avx2.IsSupported) throw new PlatformNotSupportedException("The Winograd tile needs AVX2.");
        if (g0 < 0 || g1 > m.Groups || g0 > g1) throw new ArgumentOutOfRangeException(nameof(g0), $"Groups {g0}..{g1} are outside 0..{m.Groups}.");
        int blocks = m.PaddedCols / ActivationQuantizer.BlockSize, length = (g1 - g0) * blocks * PackedInt8Matrix.GroupRows;
        var terms = t_rowPairTerms;
        if (terms is null || terms.Length < length) t_rowPairTerms = terms = new int[length];
        ref byte step = ref Unsafe.Add(ref m.Data.Reference, (nint)g0 * m.PaddedCols * PackedInt8Matrix.GroupRows);   // 8 steps a block
        for (int i = 0; i < (g1 - g0) * blocks; i++)
        {
            Vector256<int> sum = default;
            for (int j = 0; j < 8; j++, step = ref Unsafe.Add(ref step, 32))
            {
                var (even, odd) = SplitStep(ref step);
                sum += Avx2.MultiplyAddAdjacent(even - Vector256.Create((short)128), odd - Vector256.Create((short)128));   // w = u - 128
            }
            sum.StoreUnsafe(ref terms[i * PackedInt8Matrix.GroupRows]);
        }
        return terms;
    }

    /// <summary>One 32-byte weight step, 8 rows x 4 columns stored per row as int16 lanes (u0 | u1 &lt;&lt; 8), (u2 | u3 &lt;&lt; 8)
    /// with u = w + 128: <c>even</c> holds u0, u2 and <c>odd</c> u1, u3 of each row, as int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<short> Even, Vector256<short> Odd) SplitStep(ref byte step)
    {
        var raw = Vector256.LoadUnsafe(ref step).AsInt16();
        return (raw & Vector256.Create((short)0xFF), Vector256.ShiftRightLogical(raw.AsUInt16(), 8).AsInt16());
    }

    /// <summary>Four tokens (tile <paramref name="k"/> of <paramref name="tiles"/>) x two row groups per pass: each broadcast
    /// of a token's activations serves 16 rows; <paramref name="rowTerms"/> from <see cref="RowPairTerms"/> for g0..g1. An odd
    /// last group runs <see cref="Tile4Avx2"/> on the plain rows <paramref name="x"/> (same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x2Winograd(PackedInt8Matrix m, int g0, int g1, int[] rowTerms, WinogradTiles tiles, int k,
        ReadOnlySpan<sbyte> x, ReadOnlySpan<float> xScales, Span<float> y)
    {
        int P = m.PaddedCols, blocks = P / ActivationQuantizer.BlockSize, rows = m.Rows;
        if (tiles.PaddedCols != P || k >= tiles.Tiles) throw new ArgumentException("The prepared tiles do not match this matrix.", nameof(tiles));
        nint groupBytes = (nint)P * PackedInt8Matrix.GroupRows;
        ref byte w0 = ref m.Data.Reference;
        ref int a0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(tiles.Sums), (nint)k * WinogradTiles.IntsPerBlock * blocks);
        ref int negX0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(tiles.NegativePairs), (nint)k * BatchTileTokens * blocks);
        ref int terms0 = ref MemoryMarshal.GetArrayDataReference(rowTerms);
        ref float scales = ref MemoryMarshal.GetReference(xScales);
        Span<Vector256<float>> f = stackalloc Vector256<float>[8];   // token t's sums of group g + h at 2t + h
        int g = g0;
        for (; g + 2 <= g1; g += 2)
        {
            ref byte wa = ref Unsafe.Add(ref w0, g * groupBytes);
            ref byte wb = ref Unsafe.Add(ref wa, groupBytes);
            f.Clear();
            for (int b = 0; b < blocks; b++)
            {
                ref int xs = ref Unsafe.Add(ref a0, WinogradTiles.IntsPerBlock * b);   // token t's (xe, xo) of step j at 16 t + 2 j
                ref int negX = ref Unsafe.Add(ref negX0, BatchTileTokens * b);
                Vector256<int> s0a = Vector256.Create(negX), s1a = Vector256.Create(Unsafe.Add(ref negX, 1)),
                    s2a = Vector256.Create(Unsafe.Add(ref negX, 2)), s3a = Vector256.Create(Unsafe.Add(ref negX, 3));
                Vector256<int> s0b = s0a, s1b = s1a, s2b = s2a, s3b = s3a;
                for (int j = 0; j < 8; j++)
                {
                    var (evenA, oddA) = SplitStep(ref wa);
                    var (evenB, oddB) = SplitStep(ref wb);
                    // Per row (x0 + w1)(x1 + w0) + (x2 + w3)(x3 + w2): each sum within int16 (|x|, |w| <= 128).
                    var xe = Vector256.Create(xs).AsInt16();
                    var xo = Vector256.Create(Unsafe.Add(ref xs, 1)).AsInt16();
                    s0a += Avx2.MultiplyAddAdjacent(xe + oddA, xo + evenA);
                    s0b += Avx2.MultiplyAddAdjacent(xe + oddB, xo + evenB);
                    xe = Vector256.Create(Unsafe.Add(ref xs, 16)).AsInt16();
                    xo = Vector256.Create(Unsafe.Add(ref xs, 17)).AsInt16();
                    s1a += Avx2.MultiplyAddAdjacent(xe + oddA, xo + evenA);
                    s1b += Avx2.MultiplyAddAdjacent(xe + oddB, xo + evenB);
                    xe = Vector256.Create(Unsafe.Add(ref xs, 32)).AsInt16();
                    xo = Vector256.Create(Unsafe.Add(ref xs, 33)).AsInt16();
                    s2a += Avx2.MultiplyAddAdjacent(xe + oddA, xo + evenA);
                    s2b += Avx2.MultiplyAddAdjacent(xe + oddB, xo + evenB);
                    xe = Vector256.Create(Unsafe.Add(ref xs, 48)).AsInt16();
                    xo = Vector256.Create(Unsafe.Add(ref xs, 49)).AsInt16();
                    s3a += Avx2.MultiplyAddAdjacent(xe + oddA, xo + evenA);
                    s3b += Avx2.MultiplyAddAdjacent(xe + oddB, xo + evenB);
                    wa = ref Unsafe.Add(ref wa, 32);
                    wb = ref Unsafe.Add(ref wb, 32);
                    xs = ref Unsafe.Add(ref xs, 2);
                }
                var termsA = Vector256.LoadUnsafe(ref Unsafe.Add(ref terms0, ((g - g0) * blocks + b) * PackedInt8Matrix.GroupRows));
                var termsB = Vector256.LoadUnsafe(ref Unsafe.Add(ref terms0, ((g + 1 - g0) * blocks + b) * PackedInt8Matrix.GroupRows));
                f[0] = BlockEpilogue(s0a - termsA, ref scales, b, f[0]);
                f[1] = BlockEpilogue(s0b - termsB, ref scales, b, f[1]);
                f[2] = BlockEpilogue(s1a - termsA, ref scales, blocks + b, f[2]);
                f[3] = BlockEpilogue(s1b - termsB, ref scales, blocks + b, f[3]);
                f[4] = BlockEpilogue(s2a - termsA, ref scales, 2 * blocks + b, f[4]);
                f[5] = BlockEpilogue(s2b - termsB, ref scales, 2 * blocks + b, f[5]);
                f[6] = BlockEpilogue(s3a - termsA, ref scales, 3 * blocks + b, f[6]);
                f[7] = BlockEpilogue(s3b - termsB, ref scales, 3 * blocks + b, f[7]);
            }
            int r0 = g * PackedInt8Matrix.GroupRows;
            for (int t = 0; t < BatchTileTokens; t++)
            {
                RowEpilogue.Store8(f[2 * t], m.Scales, m.Bias, r0, y.Slice(t * rows, rows));
                RowEpilogue.Store8(f[2 * t + 1], m.Scales, m.Bias, r0 + PackedInt8Matrix.GroupRows, y.Slice(t * rows, rows));
            }
        }
        if (g < g1) Tile4Avx2(m, g, g1, x, xScales, y);
    }
}

/// <summary>
/// Quantized token rows laid out for <see cref="Int8MatVec.BatchTile.Avx2Winograd"/>, whole tiles of 4 tokens. Per tile and
/// activation block, <see cref="Sums"/> holds each token's 8 steps of (xe, xo), 64 bytes a token, so that a step's tokens sit
/// at constant offsets: xe packs <c>x_4i - 128</c> and <c>x_4i+2 - 128</c> as two int16, xo <c>x_4i+1 - 128</c> and
/// <c>x_4i+3 - 128</c> (the -128 cancels the +128 of the stored weight bytes). <see cref="NegativePairs"/> holds
/// <c>-sum over the block of x_2i x_2i+1</c> per tile, block and token.
/// </summary>
internal sealed class WinogradTiles : PreparedTiles
{
    /// <summary>Ints of <see cref="Sums"/> per tile and block: 4 tokens x 8 steps x (xe, xo).</summary>
    public const int IntsPerBlock = Int8MatVec.BatchTileTokens * 16;

    /// <summary>The (xe, xo) pairs, <c>[tiles, blocks, 4, 8, 2]</c>.</summary>
    public int[] Sums { get; private set; } = [];

    /// <summary>The tokens' negated pair sums, <c>[tiles, blocks, 4]</c>.</summary>
    public int[] NegativePairs { get; private set; } = [];

    /// <summary>Lays out the whole tiles of <paramref name="count"/> rows <c>x [count, paddedCols]</c> (values in [-127, 127]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Fill(ReadOnlySpan<sbyte> x, int count, int paddedCols)
    {
        const int tile = Int8MatVec.BatchTileTokens;
        int blocks = paddedCols / ActivationQuantizer.BlockSize, tiles = count / tile;
        if (!Avx2.IsSupported) throw new PlatformNotSupportedException("The Winograd tile needs AVX2.");
        if (paddedCols % ActivationQuantizer.BlockSize != 0 || x.Length < (long)count * paddedCols)
            throw new ArgumentException($"x must hold {count} rows of {paddedCols} (a multiple of {ActivationQuantizer.BlockSize}).", nameof(x));
        if (Sums.Length < tiles * blocks * IntsPerBlock) Sums = new int[tiles * blocks * IntsPerBlock];
        if (NegativePairs.Length < tiles * blocks * tile) NegativePairs = new int[tiles * blocks * tile];
        Tiles = tiles;
        PaddedCols = paddedCols;
        ref sbyte x0 = ref MemoryMarshal.GetReference(x);
        ref int sums = ref MemoryMarshal.GetArrayDataReference(Sums);
        ref int pairs = ref MemoryMarshal.GetArrayDataReference(NegativePairs);
        var offset = Vector256.Create((short)128);
        for (int t = 0; t < tiles * tile; t++)
        {
            ref sbyte row = ref Unsafe.Add(ref x0, t * paddedCols);
            int k = t / tile, tt = t % tile;
            for (int b = 0; b < blocks; b++)
            {
                var bytes = Vector256.LoadUnsafe(ref Unsafe.Add(ref row, 32 * b));
                var lo = Avx2.ConvertToVector256Int16(bytes.GetLower());   // x0 x1 x2 x3 of steps 0-3 as int16
                var hi = Avx2.ConvertToVector256Int16(bytes.GetUpper());   // steps 4-7
                // Each int32 lane of madd(v, v with neighbours swapped) is twice one pair's product x_2i x_2i+1.
                var twice = Avx2.MultiplyAddAdjacent(lo, Avx2.ShuffleHigh(Avx2.ShuffleLow(lo, 0xB1), 0xB1))
                    + Avx2.MultiplyAddAdjacent(hi, Avx2.ShuffleHigh(Avx2.ShuffleLow(hi, 0xB1), 0xB1));
                Unsafe.Add(ref pairs, (k * blocks + b) * tile + tt) = -(Vector256.Sum(twice) >> 1);
                // Per step (x0, x2 | x1, x3) - 128: xe, then xo.
                ref int at = ref Unsafe.Add(ref sums, (k * blocks + b) * IntsPerBlock + 16 * tt);
                (Avx2.ShuffleHigh(Avx2.ShuffleLow(lo, 0xD8), 0xD8) - offset).AsInt32().StoreUnsafe(ref at);
                (Avx2.ShuffleHigh(Avx2.ShuffleLow(hi, 0xD8), 0xD8) - offset).AsInt32().StoreUnsafe(ref at, 8);
            }
        }
    }
}
