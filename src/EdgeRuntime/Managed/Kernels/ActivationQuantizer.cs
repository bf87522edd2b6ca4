using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// Quantizes one token's activations to symmetric int8 in blocks of <see cref="BlockSize"/> along the
/// input dimension (the activation half of the int8 matvec). For each block b:
/// <c>scale[b] = max|x_b| / 127</c>, <c>q = round_half_even(x * (127 / max|x_b|))</c> in [-127, 127], so
/// <c>x ~= q * scale[b]</c> with error at most <c>scale[b] / 2</c> per element.
/// <para>Why blocks of 32: ONNX Runtime runs our <c>DequantizeLinear + MatMul</c> pairs as a fused
/// <c>MatMulNBits</c> (bits 8, block_size 32, accuracy_level 4), which quantizes its activations exactly
/// this way. Quantizing the same way makes the two engines round the same values, so their greedy
/// continuations agree token for token instead of parting at the first near-tie.</para>
/// <para>The destination is padded to a multiple of 32 with zeros; <c>offsets[b] = 128 * sum(q_b)</c> is
/// the correction the kernel needs because it stores weights as unsigned bytes <c>w + 128</c>.</para>
/// </summary>
internal static class ActivationQuantizer
{
    /// <summary>Activation elements per quantization block (ORT's MatMulNBits block_size).</summary>
    public const int BlockSize = 32;

    /// <summary>Number of blocks for an input of <paramref name="length"/> elements.</summary>
    public static int BlockCount(int length) => (length + BlockSize - 1) / BlockSize;

    /// <summary><paramref name="length"/> rounded up to whole blocks: the quantized row's length.</summary>
    public static int PaddedLength(int length) => BlockCount(length) * BlockSize;

    /// <summary>Quantizes <paramref name="x"/> into <paramref name="q"/> (<c>PaddedLength(x.Length)</c> bytes),
    /// writing one scale and one offset per block. An all-zero block gives q = 0 and scale 0; a block with
    /// a non-finite value gives q = 0 and a NaN scale, so the NaN reaches the logits instead of being hidden.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<sbyte> q, Span<float> scales, Span<int> offsets) =>
        Quantize(x, q, scales, offsets, vectorized: true);

    /// <summary>As <see cref="Quantize(ReadOnlySpan{float}, Span{sbyte}, Span{float}, Span{int})"/>;
    /// <paramref name="vectorized"/> = false runs the scalar reference (tests check both give identical bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void Quantize(ReadOnlySpan<float> x, Span<sbyte> q, Span<float> scales, Span<int> offsets, bool vectorized)
    {
        int blocks = BlockCount(x.Length);
        if (q.Length != blocks * BlockSize) throw new ArgumentException($"q has {q.Length} elements, expected {blocks * BlockSize} (the input padded to blocks of {BlockSize}).", nameof(q));
        if (scales.Length != blocks || offsets.Length != blocks)
            throw new ArgumentException($"scales and offsets need {blocks} elements each (got {scales.Length} and {offsets.Length}).", nameof(scales));
        int b = 0;
        if (vectorized && Avx2.IsSupported)
        {
            // Up to eight whole blocks at a time; a group holding a non-finite value goes through the per-block loop below.
            for (int whole = x.Length / BlockSize; b < whole;)
            {
                int count = Math.Min(8, whole - b), start = b * BlockSize;
                if (!QuantizeWholeBlocks(x.Slice(start, count * BlockSize), q.Slice(start, count * BlockSize), scales.Slice(b, count), offsets.Slice(b, count), count))
                    QuantizeBlocks(x, q, scales, offsets, b, b + count, vectorized);
                b += count;
            }
        }
        QuantizeBlocks(x, q, scales, offsets, b, blocks, vectorized);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void QuantizeBlocks(ReadOnlySpan<float> x, Span<sbyte> q, Span<float> scales, Span<int> offsets, int b0, int b1, bool vectorized)
    {
        for (int b = b0; b < b1; b++)
        {
            int start = b * BlockSize, length = Math.Min(BlockSize, x.Length - start);
            var qb = q.Slice(start, BlockSize);
            scales[b] = QuantizeBlock(x.Slice(start, length), qb, vectorized);
            offsets[b] = 128 * Sum(qb, vectorized);
        }
    }

    /// <summary>
    /// <paramref name="count"/> (1..8) whole blocks with the arithmetic of <see cref="QuantizeBlock"/> and <see cref="Sum"/>,
    /// so the same bytes, scales and offsets, but the maxima, divisions and sums of eight blocks each in one vector: per
    /// block, the horizontal max and sum and two scalar divisions cost more than its 32 multiplies (0.5 ns per value before).
    /// Returns false, writing nothing, when a value is NaN or infinite (the per-block path gives those blocks NaN scales).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool QuantizeWholeBlocks(ReadOnlySpan<float> x, Span<sbyte> q, Span<float> scales, Span<int> offsets, int count)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        var zero = Vector256<float>.Zero;
        var probe = zero;
        // m_k [8]: lane-wise max |x| of block k (0 past the count); probe: 0 in a lane unless some value there is NaN or infinite.
        var m0 = LaneMaxMagnitude(ref xr, ref probe);
        var m1 = count > 1 ? LaneMaxMagnitude(ref Unsafe.Add(ref xr, 32), ref probe) : zero;
        var m2 = count > 2 ? LaneMaxMagnitude(ref Unsafe.Add(ref xr, 64), ref probe) : zero;
        var m3 = count > 3 ? LaneMaxMagnitude(ref Unsafe.Add(ref xr, 96), ref probe) : zero;
        var m4 = count > 4 ? LaneMaxMagnitude(ref Unsafe.Add(ref xr, 128), ref probe) : zero;
        var m5 = count > 5 ? LaneMaxMagnitude(ref Unsafe.Add(ref xr, 160), ref probe) : zero;
        var m6 = count > 6 ? LaneMaxMagnitude(ref Unsafe.Add(ref xr, 192), ref probe) : zero;
        var m7 = count > 7 ? LaneMaxMagnitude(ref Unsafe.Add(ref xr, 224), ref probe) : zero;
        if (!Vector256.EqualsAll(probe, probe)) return false;
        var max = Reduce8(m0, m1, m2, m3, m4, m5, m6, m7, max: true);   // [8]: max |x| of block k in lane k
        var nonZero = ~Vector256.Equals(max, zero);
        var inv = Vector256.ConditionalSelect(nonZero, Vector256.Create(127f) / max, zero);   // 127 / max, or 0: q = 0
        var blockScales = max / Vector256.Create(127f);

        ref sbyte qr = ref MemoryMarshal.GetReference(q);
        // s_k [8]: lane-wise sums of block k's quantized values (int32 lanes, carried as floats for the shuffles).
        var s0 = QuantizeBlockOf8(ref xr, ref qr, inv, 0);
        var s1 = count > 1 ? QuantizeBlockOf8(ref xr, ref qr, inv, 1) : zero;
        var s2 = count > 2 ? QuantizeBlockOf8(ref xr, ref qr, inv, 2) : zero;
        var s3 = count > 3 ? QuantizeBlockOf8(ref xr, ref qr, inv, 3) : zero;
        var s4 = count > 4 ? QuantizeBlockOf8(ref xr, ref qr, inv, 4) : zero;
        var s5 = count > 5 ? QuantizeBlockOf8(ref xr, ref qr, inv, 5) : zero;
        var s6 = count > 6 ? QuantizeBlockOf8(ref xr, ref qr, inv, 6) : zero;
        var s7 = count > 7 ? QuantizeBlockOf8(ref xr, ref qr, inv, 7) : zero;
        var blockOffsets = Reduce8(s0, s1, s2, s3, s4, s5, s6, s7, max: false).AsInt32() * 128;   // integer sums: any order is exact
        if (count == 8)
        {
            blockScales.StoreUnsafe(ref MemoryMarshal.GetReference(scales));
            blockOffsets.StoreUnsafe(ref MemoryMarshal.GetReference(offsets));
        }
        else
        {
            for (int k = 0; k < count; k++)
            {
                scales[k] = blockScales.GetElement(k);
                offsets[k] = blockOffsets.GetElement(k);
            }
        }
        return true;
    }

    /// <summary>Lane-wise max |x| over the 32 values at <paramref name="xr"/> (4 vectors); adds 0 to each lane of
    /// <paramref name="probe"/>, or NaN where one of those values is NaN or infinite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LaneMaxMagnitude(ref float xr, ref Vector256<float> probe)
    {
        var v0 = Vector256.LoadUnsafe(ref xr);
        var v1 = Vector256.LoadUnsafe(ref xr, 8);
        var v2 = Vector256.LoadUnsafe(ref xr, 16);
        var v3 = Vector256.LoadUnsafe(ref xr, 24);
        var zero = Vector256<float>.Zero;
        probe += v0 * zero + v1 * zero + v2 * zero + v3 * zero;
        return Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
    }

    /// <summary>The 32 values at <paramref name="xr"/> times <paramref name="inv"/> (one value in every lane), rounded to
    /// even and stored as bytes at <paramref name="qr"/>; returns their lane-wise int32 sums (as float bits). Round,
    /// convert, then narrow int32 -> int16 -> int8: the values are within [-127, 127], so narrowing never wraps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> QuantizeBlock32(ref float xr, ref sbyte qr, Vector256<float> inv)
    {
        var i0 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr) * inv));
        var i1 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, 8) * inv));
        var i2 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, 16) * inv));
        var i3 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, 24) * inv));
        Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).StoreUnsafe(ref qr);
        return ((i0 + i1) + (i2 + i3)).AsSingle();
    }

    /// <summary>Block k of a group of eight, quantized with lane k of <paramref name="inv"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> QuantizeBlockOf8(ref float xr, ref sbyte qr, Vector256<float> inv, int k) =>
        QuantizeBlock32(ref Unsafe.Add(ref xr, 32 * k), ref Unsafe.Add(ref qr, 32 * k), Avx2.PermuteVar8x32(inv, Vector256.Create(k)));

    /// <summary>Lane k of the result = the max (or, on int32 lanes, the sum) of the 8 lanes of v_k: a transposing
    /// reduction (unpack, shuffle, swap halves), 21 instructions for eight horizontal reductions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Reduce8(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3,
        Vector256<float> v4, Vector256<float> v5, Vector256<float> v6, Vector256<float> v7, bool max)
    {
        var a01 = Combine(Avx.UnpackLow(v0, v1), Avx.UnpackHigh(v0, v1), max);   // per half: v0, v1, v0, v1
        var a23 = Combine(Avx.UnpackLow(v2, v3), Avx.UnpackHigh(v2, v3), max);
        var a45 = Combine(Avx.UnpackLow(v4, v5), Avx.UnpackHigh(v4, v5), max);
        var a67 = Combine(Avx.UnpackLow(v6, v7), Avx.UnpackHigh(v6, v7), max);
        var b0123 = Combine(Avx.Shuffle(a01, a23, 0b01_00_01_00), Avx.Shuffle(a01, a23, 0b11_10_11_10), max);   // per half: v0..v3
        var b4567 = Combine(Avx.Shuffle(a45, a67, 0b01_00_01_00), Avx.Shuffle(a45, a67, 0b11_10_11_10), max);
        return Combine(Avx.Permute2x128(b0123, b4567, 0x20), Avx.Permute2x128(b0123, b4567, 0x31), max);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Combine(Vector256<float> a, Vector256<float> b, bool max) =>
        max ? Vector256.Max(a, b) : (a.AsInt32() + b.AsInt32()).AsSingle();

    private static float QuantizeBlock(ReadOnlySpan<float> x, Span<sbyte> q, bool vectorized)
    {
        float max = vectorized && Vector256.IsHardwareAccelerated && x.Length == BlockSize ? MaxMagnitude32(x) : MathF.Abs(TensorPrimitives.MaxMagnitude(x));
        if (max == 0f || !float.IsFinite(max))
        {
            q.Clear();
            return max == 0f ? 0f : float.NaN;
        }
        float inv = 127f / max;
        if (vectorized && Vector256.IsHardwareAccelerated && x.Length == BlockSize)
            QuantizeBlock32(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(q), Vector256.Create(inv));   // round to even, like MathF.Round
        else
        {
            for (int i = 0; i < x.Length; i++) q[i] = (sbyte)(int)MathF.Round(x[i] * inv, MidpointRounding.ToEven);
            q[x.Length..].Clear();
        }
        return max / 127f;
    }

    /// <summary>max |x| over exactly 32 values, in registers (a library call per 32 values costs more than the
    /// work); NaN when any value is NaN or infinite, like the scalar path's non-finite check needs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxMagnitude32(ReadOnlySpan<float> x)
    {
        var probe = Vector256<float>.Zero;
        var m = LaneMaxMagnitude(ref MemoryMarshal.GetReference(x), ref probe);
        if (!Vector256.EqualsAll(probe, probe)) return float.NaN;
        var h = Vector128.Max(m.GetLower(), m.GetUpper());
        return MathF.Max(MathF.Max(h[0], h[1]), MathF.Max(h[2], h[3]));
    }

    private static int Sum(ReadOnlySpan<sbyte> q, bool vectorized)
    {
        if (vectorized && Vector256.IsHardwareAccelerated)
        {
            // 32 values of at most 127 in magnitude: the int16 sum cannot overflow.
            var (lo, hi) = Vector256.Widen(Vector256.Create(q));
            return Vector256.Sum(lo + hi);
        }
        int s = 0;
        foreach (sbyte v in q) s += v;
        return s;
    }
}
