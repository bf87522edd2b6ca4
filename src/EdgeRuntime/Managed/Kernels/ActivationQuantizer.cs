using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// Quantizes one token's activations to symmetric int8 with a single scale (the activation half of
/// the int8 matvec): <c>scale = max|x| / 127</c>, <c>q = round_half_even(x * (127 / max|x|))</c> in
/// [-127, 127], so <c>x ~= q * scale</c> with error at most <c>scale / 2</c> per element.
/// </summary>
internal static class ActivationQuantizer
{
    /// <summary>Quantizes <paramref name="x"/> into <paramref name="q"/> and returns the scale.
    /// An all-zero input gives q = 0 and scale 0. A non-finite input gives q = 0 and a NaN scale, so the
    /// NaN reaches the logits instead of being hidden.</summary>
    public static float Quantize(ReadOnlySpan<float> x, Span<sbyte> q) => Quantize(x, q, vectorized: true);

    /// <summary>As <see cref="Quantize(ReadOnlySpan{float}, Span{sbyte})"/>; <paramref name="vectorized"/> = false
    /// runs the scalar reference (tests check both give identical bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static float Quantize(ReadOnlySpan<float> x, Span<sbyte> q, bool vectorized)
    {
        if (q.Length != x.Length) throw new ArgumentException($"q has {q.Length} elements, expected {x.Length}.", nameof(q));
        if (x.IsEmpty) return 0f;
        float max = MathF.Abs(TensorPrimitives.MaxMagnitude(x));
        if (max == 0f || !float.IsFinite(max))
        {
            q.Clear();
            return max == 0f ? 0f : float.NaN;
        }
        float inv = 127f / max;
        int i = 0;
        if (vectorized && Vector256.IsHardwareAccelerated)
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            ref sbyte qr = ref MemoryMarshal.GetReference(q);
            var vinv = Vector256.Create(inv);
            for (; i + 32 <= x.Length; i += 32)
            {
                // Round to nearest even (like MathF.Round), convert, then narrow int32 -> int16 -> int8;
                // values are already within [-127, 127], so narrowing never wraps.
                var i0 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, (nuint)i) * vinv));
                var i1 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, (nuint)(i + 8)) * vinv));
                var i2 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, (nuint)(i + 16)) * vinv));
                var i3 = Vector256.ConvertToInt32(Vector256.Round(Vector256.LoadUnsafe(ref xr, (nuint)(i + 24)) * vinv));
                Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).StoreUnsafe(ref qr, (nuint)i);
            }
        }
        for (; i < x.Length; i++) q[i] = (sbyte)(int)MathF.Round(x[i] * inv, MidpointRounding.ToEven);
        return max / 127f;
    }
}
