using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// float32 &lt;-&gt; bfloat16 (stored as <c>ushort</c>: the top half of a float32's bits) for the bfloat16 key/value
/// cache (<see cref="KeyValueCachePrecision.BFloat16"/>). Narrowing rounds to nearest, ties to even, by adding
/// <c>0x7FFF + (bit 16)</c> before dropping the low half; widening is exact (a shift). The vector loops give the bits of
/// the scalar ones.
/// </summary>
internal static class BFloat16
{
    /// <summary>The bfloat16 nearest to <paramref name="x"/> (ties to even). Infinities stay infinite; a NaN stays NaN
    /// unless its payload is all ones (then the rounding carries into the sign: such NaNs are not produced by arithmetic).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>The float32 value of a bfloat16 (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort x) => BitConverter.UInt32BitsToSingle((uint)x << 16);

    /// <summary><c>destination[i] = FromSingle(source[i])</c>. Optimized from the first call, as every kernel: a prefill calls
    /// this and <see cref="Widen"/> a few dozen times, and as tier-0 code (no inlining of the vector helpers) Widen took
    /// ~20 ns per value on a Zen 2 VM, half of a bfloat16-cache prefill's attention time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Narrow(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        int i = 0, n = source.Length;
        if (Vector512.IsHardwareAccelerated)
        {
            ref uint s = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(source));
            ref ushort d = ref MemoryMarshal.GetReference(destination);
            for (; i + 32 <= n; i += 32)
            {
                var lo = Round(Vector512.LoadUnsafe(ref s, (nuint)i));
                var hi = Round(Vector512.LoadUnsafe(ref s, (nuint)i + 16));
                Vector512.Narrow(lo, hi).StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < n; i++) destination[i] = FromSingle(source[i]);
    }

    /// <summary><c>destination[i] = ToSingle(source[i])</c> (optimized from the first call: see <see cref="Narrow"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        int i = 0, n = source.Length;
        if (Vector512.IsHardwareAccelerated)
        {
            ref ushort s = ref MemoryMarshal.GetReference(source);
            ref uint d = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(destination));
            for (; i + 32 <= n; i += 32)
            {
                var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref s, (nuint)i));
                Vector512.ShiftLeft(lo, 16).StoreUnsafe(ref d, (nuint)i);
                Vector512.ShiftLeft(hi, 16).StoreUnsafe(ref d, (nuint)i + 16);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            ref ushort s = ref MemoryMarshal.GetReference(source);
            ref uint d = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(destination));
            for (; i + 16 <= n; i += 16)
            {
                var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref s, (nuint)i));
                Vector256.ShiftLeft(lo, 16).StoreUnsafe(ref d, (nuint)i);
                Vector256.ShiftLeft(hi, 16).StoreUnsafe(ref d, (nuint)i + 8);
            }
        }
        for (; i < n; i++) destination[i] = ToSingle(source[i]);
    }

    /// <summary>The rounded bits, shifted down: the low 16 bits of each lane are the bfloat16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Round(Vector512<uint> bits) =>
        Vector512.ShiftRightLogical(bits + Vector512.Create(0x7FFFu) + (Vector512.ShiftRightLogical(bits, 16) & Vector512<uint>.One), 16);
}
