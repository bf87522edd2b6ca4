using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// How the attention kernels read a cache element of type <typeparamref name="T"/> as float32: one implementation per
/// floating-point <see cref="KeyValueCachePrecision"/> (int8 caches have their own integer kernels, <see cref="Int8CacheAttention"/>). The kernels are generic over it, so the JIT compiles one copy per precision
/// with the loads inlined (the float32 copy is the kernel as it was). Every load gives the exact float32 value, so the
/// arithmetic after it, and its bits, do not depend on the precision the value was stored in.
/// </summary>
internal interface ICacheRow<T> where T : unmanaged
{
    /// <summary>Elements <c>offset..offset+15</c> after <paramref name="p"/>.</summary>
    static abstract Vector512<float> Load512(ref T p, nuint offset);

    /// <summary>Elements <c>offset..offset+7</c> after <paramref name="p"/>.</summary>
    static abstract Vector256<float> Load256(ref T p, nuint offset);

    /// <summary>One element.</summary>
    static abstract float ToSingle(T x);
}

/// <summary>float32 caches: plain loads.</summary>
internal readonly struct Float32Row : ICacheRow<float>
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref float p, nuint offset) => Vector512.LoadUnsafe(ref p, offset);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(ref float p, nuint offset) => Vector256.LoadUnsafe(ref p, offset);

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(float x) => x;
}

/// <summary>bfloat16 caches (<see cref="BFloat16"/>): half-width loads, zero-extended and shifted into the top half of
/// each float32 lane (<c>vpmovzxwd</c> + <c>vpslld</c>).</summary>
internal readonly struct BFloat16Row : ICacheRow<ushort>
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load512(ref ushort p, nuint offset) =>
        Vector512.ShiftLeft(Avx512F.ConvertToVector512UInt32(Vector256.LoadUnsafe(ref p, offset)), 16).AsSingle();

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load256(ref ushort p, nuint offset) =>
        Vector256.ShiftLeft(Avx2.ConvertToVector256Int32(Vector128.LoadUnsafe(ref p, offset)), 16).AsSingle();

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort x) => BFloat16.ToSingle(x);
}
