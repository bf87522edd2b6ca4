using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EdgeShortcut.Runtime.Managed.Kernels;

// A query's scores against one head's transposed keys: each position's score is one chain of multiply-adds over the
// channels c = 0..hd-1, the same in every loop below. What the loops change is how many chains run side by side: a
// pass over w positions costs about max(hd x 4 cycles of latency, w x hd / 32 multiply-adds at two per cycle), so a
// pass should be as wide as the positions allow (eight 16-lane chains reach the multiply-add rate; sixteen read whole key rows).
internal static partial class AttentionKernels
{
    /// <summary><c>scores[u] = sum_c q[c] kt[c * stride + u]</c> for u in 0..scores.Length-1.</summary>
    public static void Scores(ReadOnlySpan<float> q, ReadOnlySpan<float> kt, int stride, Span<float> scores) =>
        Scores<float, Float32Row>(q, kt, stride, scores);

    /// <summary><see cref="Scores(ReadOnlySpan{float}, ReadOnlySpan{float}, int, Span{float})"/> over keys stored as <typeparamref name="T"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scores<T, TRow>(ReadOnlySpan<float> q, ReadOnlySpan<T> kt, int stride, Span<float> scores) where T : unmanaged where TRow : struct, ICacheRow<T>
    {
        int hd = q.Length, n = scores.Length;
        if (hd == 0 || n == 0) throw new ArgumentException("Attention needs a non-empty query and at least one position.");
        if (stride < n || kt.Length < (long)(hd - 1) * stride + n)
            throw new ArgumentException($"Transposed keys hold {kt.Length} values: too few for hd {hd}, stride {stride}, n {n}.", nameof(kt));
        ref T k0 = ref MemoryMarshal.GetReference(kt);
        ref float s0 = ref MemoryMarshal.GetReference(scores);
        ref float q0 = ref MemoryMarshal.GetReference(q);
        int u = 0;
        if (Vector512.IsHardwareAccelerated) u = Scores512<T, TRow>(ref q0, hd, ref k0, stride, kt.Length, ref s0, n);
        if (Vector256.IsHardwareAccelerated)
        {
            // As the 512-bit passes: eight independent chains (64 positions), then four (32), so AVX2-only CPUs are not
            // bound by the multiply-add latency (one chain ran at a quarter of the FMA rate; four, on Zen 2 with its
            // 5-cycle FMA, at most at 0.8 of one per cycle).
            for (; u + 64 <= n; u += 64)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                for (int c = 0; c < hd; c++)
                {
                    var qc = Vector256.Create(Unsafe.Add(ref q0, c));
                    ref T row = ref Unsafe.Add(ref k0, (nint)c * stride + u);
                    a0 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 0), a0);
                    a1 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 24), a3);
                    a4 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 32), a4);
                    a5 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 40), a5);
                    a6 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 48), a6);
                    a7 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 56), a7);
                }
                a0.StoreUnsafe(ref s0, (nuint)u);
                a1.StoreUnsafe(ref s0, (nuint)u + 8);
                a2.StoreUnsafe(ref s0, (nuint)u + 16);
                a3.StoreUnsafe(ref s0, (nuint)u + 24);
                a4.StoreUnsafe(ref s0, (nuint)u + 32);
                a5.StoreUnsafe(ref s0, (nuint)u + 40);
                a6.StoreUnsafe(ref s0, (nuint)u + 48);
                a7.StoreUnsafe(ref s0, (nuint)u + 56);
            }
            for (; u + 32 <= n; u += 32)
            {
                Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
                for (int c = 0; c < hd; c++)
                {
                    var qc = Vector256.Create(Unsafe.Add(ref q0, c));
                    ref T row = ref Unsafe.Add(ref k0, (nint)c * stride + u);
                    a0 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 0), a0);
                    a1 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(qc, TRow.Load256(ref row, 24), a3);
                }
                a0.StoreUnsafe(ref s0, (nuint)u);
                a1.StoreUnsafe(ref s0, (nuint)u + 8);
                a2.StoreUnsafe(ref s0, (nuint)u + 16);
                a3.StoreUnsafe(ref s0, (nuint)u + 24);
            }
            for (; u + 8 <= n; u += 8)
            {
                Vector256<float> a0 = default;
                for (int c = 0; c < hd; c++)
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref q0, c)), TRow.Load256(ref k0, (nuint)((nint)c * stride + u)), a0);
                a0.StoreUnsafe(ref s0, (nuint)u);
            }
        }
        for (; u < n; u++)
        {
            float s = 0;
            for (int c = 0; c < hd; c++) s = MathF.FusedMultiplyAdd(q[c], TRow.ToSingle(kt[c * stride + u]), s);
            scores[u] = s;
        }
    }

    /// <summary>The 512-bit passes over positions 0..n-1; returns the first position left for the narrower loops. A pass may
    /// read past n, up to the key rows' length (<paramref name="stride"/>: cache slots past n hold stale keys), into a
    /// scratch whose first n - u scores are kept: positions 0..239 of a late decode step are then one pass, not several.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // not inlined (its stackalloc): full JIT at first call
    private static int Scores512<T, TRow>(ref float q0, int hd, ref T k0, int stride, int keys, ref float s0, int n) where T : unmanaged where TRow : struct, ICacheRow<T>
    {
        int u = 0;
        Span<float> tail = stackalloc float[256];
        ref float t0 = ref MemoryMarshal.GetReference(tail);
        for (; u + 256 <= n; u += 256) Pass16<T, TRow>(ref q0, hd, ref k0, stride, u, ref Unsafe.Add(ref s0, u));
        if (n - u > 192 && CanRead(hd, stride, keys, u + 256))
        {
            Pass16<T, TRow>(ref q0, hd, ref k0, stride, u, ref t0);
            tail[..(n - u)].CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref s0, u), n - u));
            return n;
        }
        for (; u + 128 <= n; u += 128) Pass8<T, TRow>(ref q0, hd, ref k0, stride, u, ref Unsafe.Add(ref s0, u));
        if (n - u > 64 && CanRead(hd, stride, keys, u + 128))
        {
            Pass8<T, TRow>(ref q0, hd, ref k0, stride, u, ref t0);
            tail[..(n - u)].CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref s0, u), n - u));
            return n;
        }
        for (; u + 64 <= n; u += 64) Pass4<T, TRow>(ref q0, hd, ref k0, stride, u, ref Unsafe.Add(ref s0, u));
        if (n - u > 16 && CanRead(hd, stride, keys, u + 64))
        {
            Pass4<T, TRow>(ref q0, hd, ref k0, stride, u, ref t0);
            tail[..(n - u)].CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref s0, u), n - u));
            return n;
        }
        for (; u + 16 <= n; u += 16) Scores16<T, TRow>(ref q0, hd, ref k0, stride, u).StoreUnsafe(ref s0, (nuint)u);
        if (u < n && CanRead(hd, stride, keys, u + 16))
        {
            Scores16<T, TRow>(ref q0, hd, ref k0, stride, u).StoreUnsafe(ref t0);
            tail[..(n - u)].CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref s0, u), n - u));
            u = n;
        }
        return u;
    }

    /// <summary>Whether every key row can be read up to position <paramref name="end"/> (exclusive).</summary>
    private static bool CanRead(int hd, int stride, int keys, int end) => end <= stride && (long)(hd - 1) * stride + end <= keys;

    /// <summary>Positions u..u+255 in sixteen chains, stored to <paramref name="destination"/> <c>[256]</c>. With a 256-slot cache
    /// a pass reads whole 1 KiB key rows one after another, a sequential stream; two 128-position passes read half rows 1 KiB
    /// apart, which use half of the L1's sets: `ManagedBench kernels`, scores hd64 n240 0.66 -> 0.43 us.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pass16<T, TRow>(ref float q0, int hd, ref T k0, int stride, int u, ref float destination) where T : unmanaged where TRow : struct, ICacheRow<T>
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
        for (int c = 0; c < hd; c++)
        {
            var qc = Vector512.Create(Unsafe.Add(ref q0, c));
            ref T row = ref Unsafe.Add(ref k0, (nint)c * stride + u);
            a0 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 0), a0);
            a1 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 16), a1);
            a2 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 32), a2);
            a3 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 48), a3);
            a4 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 64), a4);
            a5 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 80), a5);
            a6 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 96), a6);
            a7 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 112), a7);
            b0 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 128), b0);
            b1 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 144), b1);
            b2 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 160), b2);
            b3 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 176), b3);
            b4 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 192), b4);
            b5 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 208), b5);
            b6 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 224), b6);
            b7 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 240), b7);
        }
        a0.StoreUnsafe(ref destination);
        a1.StoreUnsafe(ref destination, 16);
        a2.StoreUnsafe(ref destination, 32);
        a3.StoreUnsafe(ref destination, 48);
        a4.StoreUnsafe(ref destination, 64);
        a5.StoreUnsafe(ref destination, 80);
        a6.StoreUnsafe(ref destination, 96);
        a7.StoreUnsafe(ref destination, 112);
        b0.StoreUnsafe(ref destination, 128);
        b1.StoreUnsafe(ref destination, 144);
        b2.StoreUnsafe(ref destination, 160);
        b3.StoreUnsafe(ref destination, 176);
        b4.StoreUnsafe(ref destination, 192);
        b5.StoreUnsafe(ref destination, 208);
        b6.StoreUnsafe(ref destination, 224);
        b7.StoreUnsafe(ref destination, 240);
    }

    /// <summary>Positions u..u+127 in eight chains, stored to <paramref name="destination"/> <c>[128]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pass8<T, TRow>(ref float q0, int hd, ref T k0, int stride, int u, ref float destination) where T : unmanaged where TRow : struct, ICacheRow<T>
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int c = 0; c < hd; c++)
        {
            var qc = Vector512.Create(Unsafe.Add(ref q0, c));
            ref T row = ref Unsafe.Add(ref k0, (nint)c * stride + u);
            a0 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 0), a0);
            a1 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 16), a1);
            a2 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 32), a2);
            a3 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 48), a3);
            a4 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 64), a4);
            a5 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 80), a5);
            a6 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 96), a6);
            a7 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 112), a7);
        }
        a0.StoreUnsafe(ref destination);
        a1.StoreUnsafe(ref destination, 16);
        a2.StoreUnsafe(ref destination, 32);
        a3.StoreUnsafe(ref destination, 48);
        a4.StoreUnsafe(ref destination, 64);
        a5.StoreUnsafe(ref destination, 80);
        a6.StoreUnsafe(ref destination, 96);
        a7.StoreUnsafe(ref destination, 112);
    }

    /// <summary>Positions u..u+63 in four chains, stored to <paramref name="destination"/> <c>[64]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pass4<T, TRow>(ref float q0, int hd, ref T k0, int stride, int u, ref float destination) where T : unmanaged where TRow : struct, ICacheRow<T>
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int c = 0; c < hd; c++)
        {
            var qc = Vector512.Create(Unsafe.Add(ref q0, c));
            ref T row = ref Unsafe.Add(ref k0, (nint)c * stride + u);
            a0 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 0), a0);
            a1 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 16), a1);
            a2 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 32), a2);
            a3 = Vector512.FusedMultiplyAdd(qc, TRow.Load512(ref row, 48), a3);
        }
        a0.StoreUnsafe(ref destination);
        a1.StoreUnsafe(ref destination, 16);
        a2.StoreUnsafe(ref destination, 32);
        a3.StoreUnsafe(ref destination, 48);
    }

    /// <summary>The scores of positions u..u+15 as one vector (one multiply-add chain over c).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Scores16<T, TRow>(ref float q0, int hd, ref T k0, int stride, int u) where T : unmanaged where TRow : struct, ICacheRow<T>
    {
        Vector512<float> a0 = default;
        for (int c = 0; c < hd; c++)
            a0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref q0, c)), TRow.Load512(ref k0, (nuint)((nint)c * stride + u)), a0);
        return a0;
    }
}
