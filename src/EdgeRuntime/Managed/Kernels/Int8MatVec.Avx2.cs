using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

// The AVX2 path (CPUs without VNNI, e.g. Zen 2 and Zen 3): the sign trick, four row groups at a time from four places.
internal static partial class Int8MatVec
{
    /// <summary>
    /// AVX2 (no VNNI): the sign trick. <c>vpmaddubsw</c> multiplies unsigned by signed bytes and adds adjacent
    /// pairs into int16; with <c>|w|</c> (at most 128) as the unsigned side and <c>x * sign(w)</c> (at most 127 in
    /// magnitude, activations never being -128) as the signed side, a pair is at most 2 * 128 * 127 = 32512, so
    /// the int16 never saturates, even for a -128 weight from a hand-made file. <c>vpmaddwd</c> with ones then
    /// adds the pairs into one int32 per row, exactly what <c>vpdpbusd</c> gives, with no widening shuffles.
    /// The block sums are the exact <c>sum w x</c>, which is what the other paths reach after subtracting the
    /// offset, so the floats that follow are the same.
    /// <para>
    /// Why four groups from four places: the range's groups are read as <see cref="MemoryStreams"/> streams a quarter of
    /// the range apart (group i of each quarter side by side), because this memory system serves several streams far
    /// faster than one: on the Zen 2 VM two threads read 25-31 GB/s from one stream each and 31-43 GB/s from four each
    /// (<c>ManagedBench bandwidth</c>, medians of five runs), and the 85M decode's products went from 23.9 to 32.7-35.0 GB/s (median of 18
    /// passes; docs/BENCHMARKS.md, "Eighteenth session"). Streams must advance together: the same four streams taken in
    /// turns of 6 KiB (a group at a time) read no faster than one. The groups left over (fewer than four) run one at a time.
    /// </para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ComputeAvx2(PackedInt8Matrix m, int g0, int g1, ReadOnlySpan<sbyte> x,
        ReadOnlySpan<float> xScales, ReadOnlySpan<int> xOffsets, Span<float> y)
    {
        nint groupBytes = m.PaddedCols * PackedInt8Matrix.GroupRows;
        ref int x4 = ref Unsafe.As<sbyte, int>(ref MemoryMarshal.GetReference(x));
        ref float sc0 = ref MemoryMarshal.GetReference(xScales);
        int blocks = xScales.Length;
        byte* pinned = m.Data.Pointer;   // a raw address for the prefetches, which may point past the array's end
        bool nonTemporal = m.PrefetchesNonTemporal;
        nint distance = nonTemporal ? NonTemporalPrefetchBytes : PrefetchBytes;
        int quarter = (g1 - g0) / MemoryStreams;
        nint apart = quarter * groupBytes;
        var ones = Vector256.Create((short)1);
        for (int i = 0; i < quarter; i++)
        {
            int g = g0 + i;   // groups g, g + quarter, g + 2 quarter, g + 3 quarter
            byte* w0 = pinned + g * groupBytes;
            Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
            for (int b = 0; b < blocks; b++, w0 += 256)
            {
                // Each stream its fixed distance ahead (a prefetch never faults, so no bounds).
                Prefetch(w0 + distance, nonTemporal);
                Prefetch(w0 + apart + distance, nonTemporal);
                Prefetch(w0 + 2 * apart + distance, nonTemporal);
                Prefetch(w0 + 3 * apart + distance, nonTemporal);
                // One chain per group (four independent chains hide the multiply latency); the int32 sums are exact, so
                // they equal the one-group loop's even + odd chains.
                Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
                for (int j = 0; j < 8; j++)
                {
                    var xj = Vector256.Create(Unsafe.Add(ref x4, b * 8 + j)).AsSByte();
                    a0 += SignedStep(LoadSigned(ref w0[j * 32]), xj, ones);
                    a1 += SignedStep(LoadSigned(ref w0[apart + j * 32]), xj, ones);
                    a2 += SignedStep(LoadSigned(ref w0[2 * apart + j * 32]), xj, ones);
                    a3 += SignedStep(LoadSigned(ref w0[3 * apart + j * 32]), xj, ones);
                }
                var scale = Vector256.Create(Unsafe.Add(ref sc0, b));
                f0 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(a0), scale, f0);
                f1 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(a1), scale, f1);
                f2 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(a2), scale, f2);
                f3 = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(a3), scale, f3);
            }
            const int rows = PackedInt8Matrix.GroupRows;
            RowEpilogue.Store8(f0, m.Scales, m.Bias, g * rows, y);
            RowEpilogue.Store8(f1, m.Scales, m.Bias, (g + quarter) * rows, y);
            RowEpilogue.Store8(f2, m.Scales, m.Bias, (g + 2 * quarter) * rows, y);
            RowEpilogue.Store8(f3, m.Scales, m.Bias, (g + 3 * quarter) * rows, y);
        }
        for (int g = g0 + MemoryStreams * quarter; g < g1; g++)   // the last few groups, one at a time
        {
            byte* wg = pinned + g * groupBytes;
            Vector256<float> f = default;
            for (int b = 0; b < blocks; b++)
            {
                Prefetch(wg + b * 256 + distance, nonTemporal);
                Vector256<int> a0 = default, a1 = default;   // two chains (even and odd steps) hide the multiply latency
                for (int j = 0; j < 8; j += 2)
                {
                    nint at = b * 256 + j * 32;
                    a0 += SignedStep(LoadSigned(ref wg[at]), Vector256.Create(Unsafe.Add(ref x4, b * 8 + j)).AsSByte(), ones);
                    a1 += SignedStep(LoadSigned(ref wg[at + 32]), Vector256.Create(Unsafe.Add(ref x4, b * 8 + j + 1)).AsSByte(), ones);
                }
                f = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(a0 + a1), Vector256.Create(Unsafe.Add(ref sc0, b)), f);
            }
            RowEpilogue.Store8(f, m.Scales, m.Bias, g * PackedInt8Matrix.GroupRows, y);
        }
    }

    /// <summary>Streams the AVX2 matvec reads side by side (see <see cref="ComputeAvx2"/>): four, one accumulator and one
    /// float sum each, leave registers for the step's temporaries (sixteen on AVX2).</summary>
    internal const int MemoryStreams = 4;

    /// <summary>Prefetches one 256-byte block: <c>prefetchnta</c> for weights that stream from memory
    /// (<see cref="PackedInt8Matrix.PrefetchesNonTemporal"/>), else <c>prefetcht0</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch(byte* block, bool nonTemporal)
    {
        if (nonTemporal) PrefetchBlockNonTemporal(block);
        else PrefetchBlock(block);
    }

    /// <summary>How far ahead of its loads the AVX2 matvec prefetches weights. In decode the weights stream from DRAM
    /// (85 MB at 85M parameters), and at 4 KiB ahead decode ran 1.1-1.3x faster in five interleaved rounds against
    /// none (2 and 8-16 KiB gave less; docs/BENCHMARKS.md, "Prefetching the weights").</summary>
    private const int PrefetchBytes = 4096;

    /// <summary>The same distance for weights that stream from DRAM (<see cref="PackedInt8Matrix.PrefetchesNonTemporal"/>,
    /// <c>prefetchnta</c>), per stream: one block ahead. With four streams on the Zen 2 VM, the 85M decode's products
    /// (<c>ManagedBench stream</c>, distances alternated, median of 18 passes) read 34.2 GB/s at 128 bytes, 32.7-35.0 at
    /// 256, 32.1 at 512, 28.8 at 768 and 28.0 at 1 KiB, the distance one stream had wanted (docs/BENCHMARKS.md,
    /// "Eighteenth session"). A resident model (<c>prefetcht0</c>) keeps 4 KiB.</summary>
    internal const int NonTemporalPrefetchBytes = 256;

    /// <summary>One packed step (8 rows x 4 columns, stored as <c>w + 128</c>) as signed weights.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> LoadSigned(ref byte step) => (Vector256.LoadUnsafe(ref step) ^ Vector256.Create((byte)0x80)).AsSByte();

    /// <summary>Row sums of one step: lane r = <c>sum_c w[r, c] x[c]</c> over the step's 4 columns, for signed weights
    /// <paramref name="w"/>, their <paramref name="magnitude"/> <c>|w|</c> (computed once when several tokens share the step)
    /// and the 4 activations broadcast in <paramref name="x4"/> (see <see cref="ComputeAvx2"/>); <paramref name="ones"/> is
    /// sixteen 1s (<c>vpmaddwd</c>'s pair sum).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SignedStep(Vector256<byte> magnitude, Vector256<sbyte> w, Vector256<sbyte> x4, Vector256<short> ones) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(magnitude, Avx2.Sign(x4, w)), ones);

    /// <summary>As above for one token's step (its own <c>|w|</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SignedStep(Vector256<sbyte> w, Vector256<sbyte> x4, Vector256<short> ones) =>
        SignedStep(Avx2.Abs(w), w, x4, ones);

    /// <summary>As above with the 4 activations packed in one int (the prefill tile's rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> SignedStep(Vector256<byte> magnitude, Vector256<sbyte> w, int x4) =>
        SignedStep(magnitude, w, Vector256.Create(x4).AsSByte(), Vector256.Create((short)1));
}
