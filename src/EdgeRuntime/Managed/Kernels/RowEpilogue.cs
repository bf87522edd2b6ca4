using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// The last step of both int8 matvec kernels for 8 consecutive output rows: <c>y = fma(acc, wScale, bias)</c>
/// lane-wise (bit-identical to <c>MathF.FusedMultiplyAdd</c> per row, which the scalar paths use). Scales and
/// bias are padded to whole row groups, so the 8 loads are always in bounds; only real rows are stored.
/// </summary>
internal static class RowEpilogue
{
    /// <summary>Writes <c>y[r0 .. r0+7]</c> (those below <c>y.Length</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store8(Vector256<float> acc, float[] scales, float[] bias, int r0, Span<float> y)
    {
        var v = Vector256.FusedMultiplyAdd(acc, Vector256.Create(scales.AsSpan(r0, 8)), Vector256.Create(bias.AsSpan(r0, 8)));
        if (r0 + 8 <= y.Length) v.StoreUnsafe(ref MemoryMarshal.GetReference(y), (nuint)r0);
        else for (int i = 0; r0 + i < y.Length; i++) y[r0 + i] = v[i];
    }
}
