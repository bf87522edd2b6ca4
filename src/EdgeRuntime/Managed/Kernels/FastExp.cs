using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// <c>exp(x)</c> in float for the engine's two callers, softmax (<c>x = s - max s</c>) and GELU's erf
/// (<c>x = -a^2</c>), whose arguments lie in <c>[</c><see cref="Min"/><c>, 0]</c>. Cody-Waite reduction
/// <c>x = n ln2 + r</c>, |r| &lt;= ln2/2, with ln2 split in two so that <c>n ln2</c> is exact, then the degree-7
/// Taylor polynomial of <c>exp(r)</c> (truncation below 6e-9 relative) and <c>2^n</c> added to the exponent bits.
/// Within 1 ulp of the true value over the domain (0.86 at worst; tests compare with double precision).
/// <para>Why not <c>Vector512.Exp</c>: it measured 2-4x slower in the kernels bench, which made the exponentials
/// a third of a 4-query attention block and most of GELU. And the scalar version here is the same sequence of
/// fused multiply-adds as every vector lane, so a vector loop's scalar tail gives the bits its lanes would
/// (before, the tails called <c>MathF.Exp</c>).</para>
/// </summary>
internal static class FastExp
{
    /// <summary>The smallest argument: <c>exp(-87)</c> = 1.6e-38 is still a normal float (below it, 2^n would leave the
    /// exponent range). Callers clamp or flush below it (<see cref="Softmax.FlushBelow"/>).</summary>
    public const float Min = -87f;

    private const float Log2E = 1.44269504f;
    // ln2 = Ln2Hi + Ln2Lo; Ln2Hi = 355/512 has 9 significant bits, so n * Ln2Hi is exact for |n| < 2^15.
    private const float Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    // 1.5 * 2^23: fma(x, log2 e, Shifter) rounds x log2 e to the nearest integer n, held in the low mantissa bits.
    private const float Shifter = 12582912f;
    private const int ShifterBits = 0x4B400000;
    private const float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;

    /// <summary>exp(<paramref name="x"/>) for x in [<see cref="Min"/>, 0].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Exp(float x)
    {
        float t = MathF.FusedMultiplyAdd(x, Log2E, Shifter);
        float n = t - Shifter;
        float r = MathF.FusedMultiplyAdd(n, -Ln2Hi, x);
        r = MathF.FusedMultiplyAdd(n, -Ln2Lo, r);
        float p = MathF.FusedMultiplyAdd(C7, r, C6);
        p = MathF.FusedMultiplyAdd(p, r, C5);
        p = MathF.FusedMultiplyAdd(p, r, C4);
        p = MathF.FusedMultiplyAdd(p, r, C3);
        p = MathF.FusedMultiplyAdd(p, r, C2);
        p = MathF.FusedMultiplyAdd(p, r, 1f);
        p = MathF.FusedMultiplyAdd(p, r, 1f);
        int scale = (BitConverter.SingleToInt32Bits(t) - ShifterBits) << 23;
        return BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(p) + scale);
    }

    /// <summary><see cref="Exp(float)"/> on 16 lanes, bit for bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var t = Vector512.FusedMultiplyAdd(x, Vector512.Create(Log2E), Vector512.Create(Shifter));
        var n = t - Vector512.Create(Shifter);
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(C7), r, Vector512.Create(C6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var scale = Vector512.ShiftLeft(t.AsInt32() - Vector512.Create(ShifterBits), 23);
        return (p.AsInt32() + scale).AsSingle();
    }

    /// <summary><see cref="Exp(float)"/> on 8 lanes, bit for bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var t = Vector256.FusedMultiplyAdd(x, Vector256.Create(Log2E), Vector256.Create(Shifter));
        var n = t - Vector256.Create(Shifter);
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(C7), r, Vector256.Create(C6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(C2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        var scale = Vector256.ShiftLeft(t.AsInt32() - Vector256.Create(ShifterBits), 23);
        return (p.AsInt32() + scale).AsSingle();
    }
}
