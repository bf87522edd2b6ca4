using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
        for (int b = 0; b < blocks; b++)
        {
            int start = b * BlockSize, length = Math.Min(BlockSize, x.Length - start);
            var qb = q.Slice(start, BlockSize);
            scales[b] = QuantizeBlock(x.Slice(start, length), qb, vectorized);
            offsets[b] = 128 * Sum(qb, vectorized);
        }
    }

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
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            var vinv = Vector256.Create(inv);
            // Round to nearest even (like MathF.Round), convert, then narrow int32 -> int16 -> int8;
            // values are already within [-127, 127], so narrowing never wraps.
            var i0 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr) * vinv));
            var i1 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, 8) * vinv));
            var i2 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, 16) * vinv));
            var i3 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, 24) * vinv));
            Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).StoreUnsafe(ref MemoryMarshal.GetReference(q));
        }
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
        ref float r = ref MemoryMarshal.GetReference(x);
        var v0 = Vector256.LoadUnsafe(ref r);
        var v1 = Vector256.LoadUnsafe(ref r, 8);
        var v2 = Vector256.LoadUnsafe(ref r, 16);
        var v3 = Vector256.LoadUnsafe(ref r, 24);
        var zero = Vector256<float>.Zero;
        var probe = v0 * zero + v1 * zero + v2 * zero + v3 * zero;   // 0 in a lane, or NaN if a value there is NaN or infinite
        if (!Vector256.EqualsAll(probe, probe)) return float.NaN;
        var m = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
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
