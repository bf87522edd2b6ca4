using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

// Prefill as a GEMM: Y [count, rows] = X [count, cols] W^T for several token rows at once, tiled over
// tokens so that each 32-byte weight step (8 rows x 4 columns) is loaded and sign-split once per tile of
// BatchTileTokens tokens instead of once per token. The block sums are exact integers whatever the tiling,
// and each token's float epilogue runs block by block in the same order as Compute, so every token's
// outputs are bit-identical to a Compute call on its own row (tests compare them on every supported path).
internal static partial class Int8MatVec
{
    /// <summary>Tokens per GEMM tile: 4 tokens x (1 int32 sum + 1 float sum) + the step's weights, their magnitudes,
    /// a ones constant and two temporaries stay within the 16 AVX2 registers.</summary>
    public const int BatchTileTokens = 4;

    /// <summary>Tokens per wide GEMM tile: the int32 sums of 8 tokens fill half the registers, the float sums wait on
    /// the stack (GemmBench: 50-54 GMAC/s on one thread against 33-51 for 4-token tiles on this AVX2 machine).</summary>
    public const int WideTileTokens = 8;

    /// <summary>The token-tiled GEMM kernels, from none to fastest.</summary>
    public enum BatchTile
    {
        /// <summary>No tile: one <c>Compute</c> per token (CPUs without AVX2).</summary>
        None,
        /// <summary>AVX2 sign trick (<see cref="ComputeAvx2"/>), 8- and 4-token tiles: ~16 multiply-adds per cycle on Zen 3.</summary>
        Avx2,
        /// <summary>AVX2 with Winograd's inner product (<c>Int8MatVec.BatchWinograd.cs</c>), 4-token tiles over two row groups:
        /// one <c>vpmaddwd</c> per four products of a row instead of two multiply instructions, the sums built on the other
        /// pipes; 50-53 GMAC/s on one Zen 2 thread against 44-46 for <see cref="Avx2"/> (<c>ManagedBench gemm</c>).</summary>
        Avx2Winograd,
        /// <summary>AVX-VNNI <c>vpdpbusd</c>, 8-token tiles over two row groups: one instruction per 32 multiply-adds
        /// instead of four; 170-190 GMAC/s on one Zen 5 thread against ~80 for the AVX2 tile (<c>ManagedBench gemm</c>).</summary>
        AvxVnni,
        /// <summary>The <see cref="AvxVnni"/> products with interleaved activations and a 512-bit epilogue on aligned float
        /// sums (<c>Int8MatVec.BatchVnni512.cs</c>): CPUs with AVX-VNNI and AVX-512. 196-200 GMAC/s on one Zen 5 thread against
        /// 173-182 for <see cref="AvxVnni"/> (<c>ManagedBench gemm</c>; the 256-bit <c>vpdpbusd</c> peak is ~209).</summary>
        AvxVnni512,
    }

    /// <summary>The fastest GEMM tile this CPU supports: the one the engine runs. Benchmarks set it to another supported
    /// tile to compare two tiles in one process (every tile gives the same bits).</summary>
    public static BatchTile BestBatchTile
    {
        get => s_bestBatchTile;
        internal set => s_bestBatchTile = IsSupported(value) ? value : throw new PlatformNotSupportedException($"The {value} GEMM tile is not supported on this CPU.");
    }

    private static BatchTile s_bestBatchTile = IsSupported(BatchTile.AvxVnni512) ? BatchTile.AvxVnni512
        : AvxVnni.IsSupported ? BatchTile.AvxVnni : Avx2.IsSupported ? BatchTile.Avx2Winograd : BatchTile.None;

    /// <summary>Whether <paramref name="tile"/> can run on this CPU.</summary>
    public static bool IsSupported(BatchTile tile) => tile switch
    {
        BatchTile.None => true,
        BatchTile.Avx2 or BatchTile.Avx2Winograd => Avx2.IsSupported,
        BatchTile.AvxVnni => AvxVnni.IsSupported,
        BatchTile.AvxVnni512 => AvxVnni.IsSupported && Vector512.IsHardwareAccelerated && Avx512F.IsSupported,
        _ => false,
    };

    /// <summary>
    /// Rows of groups <paramref name="g0"/>..<paramref name="g1"/>-1 for <paramref name="count"/> token rows:
    /// <paramref name="x"/> <c>[count, PaddedCols]</c>, <paramref name="xScales"/> and <paramref name="xOffsets"/>
    /// <c>[count, PaddedCols / 32]</c> (as <c>QuantizedActivations</c> lays them out), <paramref name="y"/> <c>[count, Rows]</c>.
    /// Bit-identical to one <c>Compute</c> per token.
    /// </summary>
    public static void ComputeBatch(PackedInt8Matrix m, int g0, int g1, ReadOnlySpan<sbyte> x,
        ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, int count, Span<float> y) =>
        ComputeBatch(BestBatchTile, m, g0, g1, x, xScales, xOffsets, count, y);

    /// <summary>As above, with the rows' whole tiles already laid out by <see cref="PrepareBatch(ReadOnlySpan{sbyte}, ReadOnlySpan{float}, ReadOnlySpan{int}, int, int)"/> (null: as above).</summary>
    public static void ComputeBatch(PackedInt8Matrix m, int g0, int g1, ReadOnlySpan<sbyte> x,
        ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, int count, Span<float> y, PreparedTiles? prepared) =>
        ComputeBatch(BestBatchTile, m, g0, g1, x, xScales, xOffsets, count, y, prepared);

    /// <summary><see cref="ComputeBatch(PackedInt8Matrix, int, int, ReadOnlySpan{sbyte}, ReadOnlySpan{float}, ReadOnlySpan{int}, int, Span{float})"/>
    /// with a chosen <paramref name="tile"/> (tests pin every tile this CPU has). Tokens past the last whole tile run
    /// one 4-token AVX2 tile at most, then <c>Compute</c> per token.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ComputeBatch(BatchTile tile, PackedInt8Matrix m, int g0, int g1, ReadOnlySpan<sbyte> x,
        ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, int count, Span<float> y, PreparedTiles? prepared = null)
    {
        int P = m.PaddedCols, blocks = P / ActivationQuantizer.BlockSize, rows = m.Rows;
        if (count < 1 || x.Length < (long)count * P || xScales.Length < (long)count * blocks || xOffsets.Length < (long)count * blocks || y.Length < (long)count * rows)
            throw new ArgumentException($"x, its scales and offsets, and y must hold {count} token rows each.", nameof(x));
        if (g0 < 0 || g1 > m.Groups || g0 > g1) throw new ArgumentOutOfRangeException(nameof(g0), $"Groups {g0}..{g1} are outside 0..{m.Groups}.");
        if (!IsSupported(tile)) throw new PlatformNotSupportedException($"The {tile} GEMM tile is not supported on this CPU.");
        int t = 0;
        if (tile == BatchTile.AvxVnni512 && count >= WideTileTokens)
        {
            var tiles = prepared as InterleavedTiles ?? Interleave(x, xScales, xOffsets, count, P);
            if (tiles.Tiles != count / WideTileTokens) throw new ArgumentException($"The prepared tiles hold {tiles.Tiles} tiles, not those of {count} rows.", nameof(prepared));
            for (; t + WideTileTokens <= count; t += WideTileTokens)
                Tile8TwoGroupsVnni512(m, g0, g1, tiles, t / WideTileTokens, x.Slice(t * P, WideTileTokens * P), xScales.Slice(t * blocks, WideTileTokens * blocks),
                    y.Slice(t * rows, WideTileTokens * rows));
        }
        else if (tile == BatchTile.AvxVnni)
        {
            for (; t + WideTileTokens <= count; t += WideTileTokens)
                Tile8TwoGroupsVnni(m, g0, g1, x.Slice(t * P, WideTileTokens * P), xScales.Slice(t * blocks, WideTileTokens * blocks),
                    xOffsets.Slice(t * blocks, WideTileTokens * blocks), y.Slice(t * rows, WideTileTokens * rows));
        }
        else if (tile == BatchTile.Avx2Winograd && count >= BatchTileTokens)
        {
            var tiles = prepared as WinogradTiles ?? PrepareWinograd(x, count, P);
            if (tiles.Tiles != count / BatchTileTokens) throw new ArgumentException($"The prepared tiles hold {tiles.Tiles} tiles, not those of {count} rows.", nameof(prepared));
            var rowTerms = RowPairTerms(m, g0, g1);
            for (; t + BatchTileTokens <= count; t += BatchTileTokens)
                Tile4x2Winograd(m, g0, g1, rowTerms, tiles, t / BatchTileTokens, x.Slice(t * P, BatchTileTokens * P), xScales.Slice(t * blocks, BatchTileTokens * blocks),
                    y.Slice(t * rows, BatchTileTokens * rows));
        }
        else if (tile == BatchTile.Avx2)
        {
            for (; t + WideTileTokens <= count; t += WideTileTokens)
                Tile8Avx2(m, g0, g1, x.Slice(t * P, WideTileTokens * P), xScales.Slice(t * blocks, WideTileTokens * blocks), y.Slice(t * rows, WideTileTokens * rows));
        }
        if (tile != BatchTile.None)
        {
            for (; t + BatchTileTokens <= count; t += BatchTileTokens)   // the remainder: one 4-token tile at most
                Tile4Avx2(m, g0, g1, x.Slice(t * P, BatchTileTokens * P), xScales.Slice(t * blocks, BatchTileTokens * blocks),
                    y.Slice(t * rows, BatchTileTokens * rows));
        }
        for (; t < count; t++)
            Compute(m, g0, g1, x.Slice(t * P, P), xScales.Slice(t * blocks, blocks), xOffsets.Slice(t * blocks, blocks), y.Slice(t * rows, rows));
    }

    /// <summary>Four tokens per pass over each row group: each step's signed weights and their magnitudes
    /// (<see cref="ComputeAvx2"/>'s sign trick) are computed once and shared by the four tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4Avx2(PackedInt8Matrix m, int g0, int g1, ReadOnlySpan<sbyte> x, ReadOnlySpan<float> xScales, Span<float> y)
    {
        int P = m.PaddedCols, blocks = P / ActivationQuantizer.BlockSize, rows = m.Rows;
        nint groupBytes = (nint)P * PackedInt8Matrix.GroupRows;
        ref byte w0 = ref m.Data.Reference;
        ref int xa = ref Unsafe.As<sbyte, int>(ref MemoryMarshal.GetReference(x));   // 4 activations per int
        ref int xb = ref Unsafe.Add(ref xa, P / 4);
        ref int xc = ref Unsafe.Add(ref xb, P / 4);
        ref int xd = ref Unsafe.Add(ref xc, P / 4);
        ref float scales = ref MemoryMarshal.GetReference(xScales);
        for (int g = g0; g < g1; g++)
        {
            ref byte wg = ref Unsafe.Add(ref w0, g * groupBytes);
            Vector256<float> fa = default, fb = default, fc = default, fd = default;
            for (int b = 0; b < blocks; b++)
            {
                Vector256<int> sa = default, sb = default, sc = default, sd = default;
                for (int j = 0; j < 8; j++)
                {
                    int k = b * 8 + j;
                    var w = LoadSigned(ref Unsafe.Add(ref wg, b * 256 + j * 32));
                    var magnitude = Avx2.Abs(w);
                    sa += SignedStep(magnitude, w, Unsafe.Add(ref xa, k));
                    sb += SignedStep(magnitude, w, Unsafe.Add(ref xb, k));
                    sc += SignedStep(magnitude, w, Unsafe.Add(ref xc, k));
                    sd += SignedStep(magnitude, w, Unsafe.Add(ref xd, k));
                }
                fa = BlockEpilogue(sa, ref scales, b, fa);
                fb = BlockEpilogue(sb, ref scales, blocks + b, fb);
                fc = BlockEpilogue(sc, ref scales, 2 * blocks + b, fc);
                fd = BlockEpilogue(sd, ref scales, 3 * blocks + b, fd);
            }
            int r0 = g * PackedInt8Matrix.GroupRows;
            RowEpilogue.Store8(fa, m.Scales, m.Bias, r0, y[..rows]);
            RowEpilogue.Store8(fb, m.Scales, m.Bias, r0, y.Slice(rows, rows));
            RowEpilogue.Store8(fc, m.Scales, m.Bias, r0, y.Slice(2 * rows, rows));
            RowEpilogue.Store8(fd, m.Scales, m.Bias, r0, y.Slice(3 * rows, rows));
        }
    }

    /// <summary>Eight tokens per pass: 8 int32 sums in registers, the float sums in a stack buffer (touched once per block).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile8Avx2(PackedInt8Matrix m, int g0, int g1, ReadOnlySpan<sbyte> x, ReadOnlySpan<float> xScales, Span<float> y)
    {
        int P = m.PaddedCols, blocks = P / ActivationQuantizer.BlockSize, rows = m.Rows;
        nint groupBytes = (nint)P * PackedInt8Matrix.GroupRows;
        nint xRow = P / 4;
        ref byte w0 = ref m.Data.Reference;
        ref int x0 = ref Unsafe.As<sbyte, int>(ref MemoryMarshal.GetReference(x));   // 4 activations per int
        ref float scales = ref MemoryMarshal.GetReference(xScales);
        Span<Vector256<float>> f = stackalloc Vector256<float>[8];
        for (int g = g0; g < g1; g++)
        {
            ref byte wg = ref Unsafe.Add(ref w0, g * groupBytes);
            f.Clear();
            for (int b = 0; b < blocks; b++)
            {
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
                ref int xk = ref Unsafe.Add(ref x0, b * 8);
                for (int j = 0; j < 8; j++)
                {
                    var w = LoadSigned(ref Unsafe.Add(ref wg, b * 256 + j * 32));
                    var magnitude = Avx2.Abs(w);
                    ref int xj = ref Unsafe.Add(ref xk, j);
                    s0 += SignedStep(magnitude, w, xj);
                    s1 += SignedStep(magnitude, w, Unsafe.Add(ref xj, xRow));
                    s2 += SignedStep(magnitude, w, Unsafe.Add(ref xj, 2 * xRow));
                    s3 += SignedStep(magnitude, w, Unsafe.Add(ref xj, 3 * xRow));
                    s4 += SignedStep(magnitude, w, Unsafe.Add(ref xj, 4 * xRow));
                    s5 += SignedStep(magnitude, w, Unsafe.Add(ref xj, 5 * xRow));
                    s6 += SignedStep(magnitude, w, Unsafe.Add(ref xj, 6 * xRow));
                    s7 += SignedStep(magnitude, w, Unsafe.Add(ref xj, 7 * xRow));
                }
                f[0] = BlockEpilogue(s0, ref scales, b, f[0]);
                f[1] = BlockEpilogue(s1, ref scales, blocks + b, f[1]);
                f[2] = BlockEpilogue(s2, ref scales, 2 * blocks + b, f[2]);
                f[3] = BlockEpilogue(s3, ref scales, 3 * blocks + b, f[3]);
                f[4] = BlockEpilogue(s4, ref scales, 4 * blocks + b, f[4]);
                f[5] = BlockEpilogue(s5, ref scales, 5 * blocks + b, f[5]);
                f[6] = BlockEpilogue(s6, ref scales, 6 * blocks + b, f[6]);
                f[7] = BlockEpilogue(s7, ref scales, 7 * blocks + b, f[7]);
            }
            int r0 = g * PackedInt8Matrix.GroupRows;
            for (int t = 0; t < 8; t++) RowEpilogue.Store8(f[t], m.Scales, m.Bias, r0, y.Slice(t * rows, rows));
        }
    }

    /// <summary>One token's block epilogue, exactly as the per-token paths: <c>f = fma((float)s_b, scale_b, f)</c>, where
    /// <paramref name="sums"/> holds the block's exact <c>sum w x</c> per row (the other paths' <c>s_b - offset_b</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> BlockEpilogue(Vector256<int> sums, ref float scales, int at, Vector256<float> f) =>
        Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(sums), Vector256.Create(Unsafe.Add(ref scales, at)), f);
}
