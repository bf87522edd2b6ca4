using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

// The x86 paths. A block of 32 columns is 8 steps of 4 columns; each step is one 32-byte load of the
// packed weights (8 rows x 4 columns) against a broadcast of 4 activations. Block sums land one row
// per int32 lane, so the float epilogue is a vector FMA per block with no horizontal reductions.
internal static partial class Int8MatVec
{
    /// <summary>
    /// AVX-VNNI: <c>vpdpbusd</c> multiplies the unsigned weight bytes (w + 128) by the signed activations and
    /// adds each group of 4 products into the row's lane. For cache-resident weights two row groups run side by
    /// side, each with two accumulators (even and odd steps), so four independent chains hide the instruction's
    /// latency; weights streamed from memory go one group at a time (<see cref="PackedInt8Matrix.StreamsFromMemory"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    private static unsafe void ComputeAvxVnni(PackedInt8Matrix m, int g0, int g1, ReadOnlySpan<sbyte> x,
        ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, Span<float> y)
    {
        int blocks = xScales.Length;
        nint groupBytes = m.PaddedCols * PackedInt8Matrix.GroupRows;   // shapes and group range checked by Compute, the only caller
        // Raw pointers that walk forward, one block (256 weight bytes, 8 activation ints, one scale and offset) at a time:
        // with span indices the JIT spent ~75 instructions per block on index arithmetic and reloads around 8 multiply-adds,
        // and that, not memory, set the pace (ManagedBench stream: ~56 GB/s per thread from L3).
        byte* data = m.Data.Pointer;   // pinned: also the base of the prefetches, which may point past the end
        fixed (sbyte* xp = x) fixed (float* scp = xScales) fixed (int* ofp = xOffsets)
        {
            int g = g0;
            bool pairs = !m.StreamsFromMemory;   // cache-resident weights: two groups side by side (see StreamsFromMemory)
            for (; pairs && g + 2 <= g1; g += 2)
            {
                byte* wa = data + g * groupBytes, wb = wa + groupBytes;
                int* xb = (int*)xp;
                Vector256<float> fa = default, fb = default;
                for (int b = 0; b < blocks; b++, wa += 256, wb += 256, xb += 8)
                {
                    // Both groups' streams, a fixed distance ahead (a prefetch never faults, so no bounds).
                    PrefetchBlock(wa + VnniPrefetchBytes);
                    PrefetchBlock(wb + VnniPrefetchBytes);
                    Vector256<int> a0 = default, a1 = default, b0 = default, b1 = default;
                    for (int j = 0; j < 8; j += 2)
                    {
                        var xj = Vector256.Create(xb[j]).AsSByte();
                        var xk = Vector256.Create(xb[j + 1]).AsSByte();
                        a0 = AvxVnni.MultiplyWideningAndAdd(a0, Avx.LoadVector256(wa + j * 32), xj);
                        b0 = AvxVnni.MultiplyWideningAndAdd(b0, Avx.LoadVector256(wb + j * 32), xj);
                        a1 = AvxVnni.MultiplyWideningAndAdd(a1, Avx.LoadVector256(wa + j * 32 + 32), xk);
                        b1 = AvxVnni.MultiplyWideningAndAdd(b1, Avx.LoadVector256(wb + j * 32 + 32), xk);
                    }
                    var offset = Vector256.Create(ofp[b]);
                    var scale = Vector256.Create(scp[b]);
                    fa = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(a0 + a1 - offset), scale, fa);
                    fb = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(b0 + b1 - offset), scale, fb);
                }
                RowEpilogue.Store8(fa, m.Scales, m.Bias, g * PackedInt8Matrix.GroupRows, y);
                RowEpilogue.Store8(fb, m.Scales, m.Bias, (g + 1) * PackedInt8Matrix.GroupRows, y);
            }
            for (; g < g1; g++)   // one group at a time: streamed weights, or the last group of an odd range
            {
                byte* wa = data + g * groupBytes;
                int* xb = (int*)xp;
                Vector256<float> fa = default;
                for (int b = 0; b < blocks; b++, wa += 256, xb += 8)
                {
                    PrefetchBlock(wa + VnniPrefetchBytes);
                    // Even steps into a0, odd ones into a1, as in the paired loop (the integer sums are exact either way).
                    var a0 = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Avx.LoadVector256(wa), Vector256.Create(xb[0]).AsSByte());
                    var a1 = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, Avx.LoadVector256(wa + 32), Vector256.Create(xb[1]).AsSByte());
                    a0 = AvxVnni.MultiplyWideningAndAdd(a0, Avx.LoadVector256(wa + 64), Vector256.Create(xb[2]).AsSByte());
                    a1 = AvxVnni.MultiplyWideningAndAdd(a1, Avx.LoadVector256(wa + 96), Vector256.Create(xb[3]).AsSByte());
                    a0 = AvxVnni.MultiplyWideningAndAdd(a0, Avx.LoadVector256(wa + 128), Vector256.Create(xb[4]).AsSByte());
                    a1 = AvxVnni.MultiplyWideningAndAdd(a1, Avx.LoadVector256(wa + 160), Vector256.Create(xb[5]).AsSByte());
                    a0 = AvxVnni.MultiplyWideningAndAdd(a0, Avx.LoadVector256(wa + 192), Vector256.Create(xb[6]).AsSByte());
                    a1 = AvxVnni.MultiplyWideningAndAdd(a1, Avx.LoadVector256(wa + 224), Vector256.Create(xb[7]).AsSByte());
                    fa = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(a0 + a1 - Vector256.Create(ofp[b])), Vector256.Create(scp[b]), fa);
                }
                RowEpilogue.Store8(fa, m.Scales, m.Bias, g * PackedInt8Matrix.GroupRows, y);
            }
        }
    }

    /// <summary>Prefetches one 256-byte block of packed weights (a 32-column block of one row group): four cache lines.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchBlock(byte* block)
    {
        Sse.Prefetch0(block); Sse.Prefetch0(block + 64); Sse.Prefetch0(block + 128); Sse.Prefetch0(block + 192);
    }

    /// <summary>As <see cref="PrefetchBlock"/> with the non-temporal hint (<c>prefetchnta</c>): for weights that pass
    /// through the caches once per token (<see cref="PackedInt8Matrix.PrefetchesNonTemporal"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PrefetchBlockNonTemporal(byte* block)
    {
        Sse.PrefetchNonTemporal(block); Sse.PrefetchNonTemporal(block + 64);
        Sse.PrefetchNonTemporal(block + 128); Sse.PrefetchNonTemporal(block + 192);
    }

    /// <summary>How far ahead of each of its two group streams the VNNI matvec prefetches, measured on a Zen 5: 85M int8
    /// decode ran 1.32-1.50x faster at 8 KiB than with none (three interleaved rounds), and ahead of 1, 2, 4, 6, 12 and
    /// 16 KiB in every round (docs/BENCHMARKS.md, "Zen 5").</summary>
    private const int VnniPrefetchBytes = 8192;

    /// <summary>
    /// AVX-512BW: zero-extend a step's 32 weight bytes to 32 int16 lanes and <c>vpmaddwd</c> them with the 4
    /// activations repeated, giving two partial sums per row; at the block end <see cref="PairsToRows"/>
    /// folds the pairs into one lane per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeAvx512BW(PackedInt8Matrix m, int g0, int g1, ReadOnlySpan<sbyte> x,
        ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, Span<float> y)
    {
        nint groupBytes = m.PaddedCols * PackedInt8Matrix.GroupRows;
        ref byte w0 = ref m.Data.Reference;
        ref int x4 = ref Unsafe.As<sbyte, int>(ref MemoryMarshal.GetReference(x));
        for (int g = g0; g < g1; g++)
        {
            ref byte wg = ref Unsafe.Add(ref w0, g * groupBytes);
            Vector256<float> f = default;
            for (int b = 0; b < xScales.Length; b++)
            {
                Vector512<int> a0 = default, a1 = default;
                for (int j = 0; j < 8; j += 2)
                {
                    nint at = b * 256 + j * 32;
                    var xj = Avx512BW.ConvertToVector512Int16(Vector256.Create(Unsafe.Add(ref x4, b * 8 + j)).AsSByte());
                    var xk = Avx512BW.ConvertToVector512Int16(Vector256.Create(Unsafe.Add(ref x4, b * 8 + j + 1)).AsSByte());
                    a0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref Unsafe.Add(ref wg, at))).AsInt16(), xj);
                    a1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.ConvertToVector512Int16(Vector256.LoadUnsafe(ref Unsafe.Add(ref wg, at + 32))).AsInt16(), xk);
                }
                var sum = a0 + a1;
                var rows = PairsToRows(sum.GetLower(), sum.GetUpper()) - Vector256.Create(xOffsets[b]);
                f = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(rows), Vector256.Create(xScales[b]), f);
            }
            RowEpilogue.Store8(f, m.Scales, m.Bias, g * PackedInt8Matrix.GroupRows, y);
        }
    }

    private static readonly Vector256<int> PairOrder = Vector256.Create(0, 1, 4, 5, 2, 3, 6, 7);

    /// <summary>Rows 0-3 as pairs <c>[r0a r0b r1a r1b | r2a r2b r3a r3b]</c> in <paramref name="lo"/>, rows 4-7 alike in
    /// <paramref name="hi"/>, to <c>[r0 .. r7]</c>: <c>vphaddd</c> gives <c>[r0 r1 r4 r5 | r2 r3 r6 r7]</c>, a permute restores the order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> PairsToRows(Vector256<int> lo, Vector256<int> hi) =>
        Avx2.PermuteVar8x32(Avx2.HorizontalAdd(lo, hi), PairOrder);
}
