using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeShortcut.Runtime.Managed.Kernels;

/// <summary>
/// The element-wise adds and scalings on the engine's hot paths (residual adds, the query scale, position embeddings,
/// additive masks, softmax's normalization): the same IEEE operation per element as <c>TensorPrimitives.Add</c> / <c>Multiply</c>, so the same bits.
/// Why not those: System.Numerics.Tensors ships without precompiled code for its generic operators, so the first
/// prefills of a process ran them as tier-0 code (unoptimized, a call per vector) until the tiered JIT replaced them;
/// these are compiled fully optimized at their first call.
/// </summary>
internal static class Elementwise
{
    /// <summary><c>destination[i] = x[i] + y[i]</c> (<paramref name="destination"/> may be <paramref name="x"/> or <paramref name="y"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> destination)
    {
        int n = destination.Length;
        if (x.Length != n || y.Length != n) throw new ArgumentException($"Add of {x.Length} and {y.Length} values into {n}.");
        ref float a = ref MemoryMarshal.GetReference(x);
        ref float b = ref MemoryMarshal.GetReference(y);
        ref float d = ref MemoryMarshal.GetReference(destination);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) (Vector512.LoadUnsafe(ref a, (nuint)i) + Vector512.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) (Vector256.LoadUnsafe(ref a, (nuint)i) + Vector256.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref d, i) = Unsafe.Add(ref a, i) + Unsafe.Add(ref b, i);
    }

    /// <summary><c>x[i] *= scale</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scale(Span<float> x, float scale)
    {
        int n = x.Length, i = 0;
        ref float a = ref MemoryMarshal.GetReference(x);
        if (Vector512.IsHardwareAccelerated)
        {
            var s = Vector512.Create(scale);
            for (; i + 16 <= n; i += 16) (Vector512.LoadUnsafe(ref a, (nuint)i) * s).StoreUnsafe(ref a, (nuint)i);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var s = Vector256.Create(scale);
            for (; i + 8 <= n; i += 8) (Vector256.LoadUnsafe(ref a, (nuint)i) * s).StoreUnsafe(ref a, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref a, i) *= scale;
    }
}
