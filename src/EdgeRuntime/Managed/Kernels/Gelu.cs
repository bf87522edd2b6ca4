using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// Exact (erf-based) GELU, <c>GELU(x) = 0.5 x (1 + erf(x / sqrt 2))</c>, as FORMAT.md section 4 requires
/// (not the tanh approximation). erf uses Abramowitz and Stegun 7.1.26:
/// <c>erf(a) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-a^2)</c>, <c>t = 1 / (1 + p a)</c>, a = |x|,
/// odd extension for x &lt; 0, with <see cref="FastExp"/>'s exponential. Its truncation error is below 1.5e-7 over the
/// real line; in float the total stays below 1e-6 (tests compare with a double-precision series).
/// </summary>
internal static class Gelu
{
    private const float P = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;
    private const float InvSqrt2 = 0.70710678118654752f;

    /// <summary>|x| is clamped here before exp(-x^2): erf(9) is 1 in float, and beyond ~9.4 exp(-x^2) would be a
    /// sub-normal number, which costs a microcode assist per operation on x86.</summary>
    private const float ErfSaturation = 9f;

    /// <summary>erf(x) in float, |error| &lt; 1e-6; the same arithmetic as every lane of the vector forms.</summary>
    public static float Erf(float x)
    {
        float a = MathF.Min(MathF.Abs(x), ErfSaturation);
        float t = 1f / MathF.FusedMultiplyAdd(P, a, 1f);
        float poly = t * MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(A5, t, A4), t, A3), t, A2), t, A1);
        float y = MathF.FusedMultiplyAdd(-poly, FastExp.Exp(-(a * a)), 1f);
        return x < 0 ? -y : y;
    }

    /// <summary><see cref="Erf(float)"/> on 16 lanes, bit for bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Erf(Vector512<float> x)
    {
        var a = Vector512.Min(Vector512.Abs(x), Vector512.Create(ErfSaturation));
        var t = Vector512<float>.One / Vector512.FusedMultiplyAdd(Vector512.Create(P), a, Vector512<float>.One);
        var poly = Vector512.FusedMultiplyAdd(Vector512.Create(A5), t, Vector512.Create(A4));
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create(A3));
        poly = Vector512.FusedMultiplyAdd(poly, t, Vector512.Create(A2));
        poly = t * Vector512.FusedMultiplyAdd(poly, t, Vector512.Create(A1));
        var y = Vector512.FusedMultiplyAdd(-poly, FastExp.Exp(-(a * a)), Vector512<float>.One);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), -y, y);
    }

    /// <summary><see cref="Erf(float)"/> on 8 lanes, bit for bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        var a = Vector256.Min(Vector256.Abs(x), Vector256.Create(ErfSaturation));
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(Vector256.Create(P), a, Vector256<float>.One);
        var poly = Vector256.FusedMultiplyAdd(Vector256.Create(A5), t, Vector256.Create(A4));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(A3));
        poly = Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(A2));
        poly = t * Vector256.FusedMultiplyAdd(poly, t, Vector256.Create(A1));
        var y = Vector256.FusedMultiplyAdd(-poly, FastExp.Exp(-(a * a)), Vector256<float>.One);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), -y, y);
    }

    /// <summary>In place: <c>x[i] = GELU(x[i])</c>, 512-bit lanes where the CPU runs them, else 256-bit, then scalar;
    /// every element gets the same bits whichever loop reaches it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void Apply(Span<float> x)
    {
        int i = 0, n = x.Length;
        ref float r = ref MemoryMarshal.GetReference(x);
        if (Vector512.IsHardwareAccelerated)
        {
            var half = Vector512.Create(0.5f);
            var s = Vector512.Create(InvSqrt2);
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref r, (nuint)i);
                (half * v * (Vector512<float>.One + Erf(v * s))).StoreUnsafe(ref r, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var half = Vector256.Create(0.5f);
            var s = Vector256.Create(InvSqrt2);
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)i);
                (half * v * (Vector256<float>.One + Erf(v * s))).StoreUnsafe(ref r, (nuint)i);
            }
        }
        for (; i < n; i++) x[i] = 0.5f * x[i] * (1f + Erf(x[i] * InvSqrt2));
    }
}
