using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// How many multiply-adds one core can issue per cycle on AVX2, which bounds a prefill GEMM whatever its tiling:
/// <code>
/// vpmaddubsw  32 u8 x s8 products, pairs summed to int16      (the int8 tile's multiply)
/// vpmaddwd    16 int16 x int16 products, pairs summed to int32 (the int8 tile's widening, or a multiply on int16)
/// vfmadd      8 float32 multiply-adds                           (the float tile)
/// </code>
/// Each loop runs 12 (10 for FMA) independent chains of one instruction, enough to hide its latency, so its time per
/// instruction is the reciprocal throughput. Cycles come from a chain of dependent integer adds (one cycle each), so
/// the numbers hold at whatever clock the core runs. A mixed loop (vpmaddwd beside FMAs) shows whether the two kinds share
/// a pipe. Why: the twelfth session's bound on prefill (BENCHMARKS, "Twelfth session") rested on this rate.
/// </summary>
internal static class PortProbe
{
    private const int Iterations = 20_000_000;

    public static void Run(int rounds)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported)
        {
            Console.WriteLine("ports: needs AVX2 and FMA; this CPU has neither path to probe.");
            return;
        }
        Console.WriteLine($"AVX2 issue rates, {rounds} rounds (cycles per instruction; lower is faster); load {LoadAverage.Read()}");
        Console.WriteLine("| round | clock GHz | vpmaddubsw | vpmaddwd | vfmadd231ps | 6 vpmaddwd + 10 vfmadd, cycles | int8 MAC/cycle (vpmaddubsw + vpmaddwd) | float MAC/cycle |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        for (int r = 1; r <= rounds; r++)
        {
            double cycleSeconds = Seconds(() => AddChain(r)) / (2.0 * Iterations * 4);   // two dependent adds per iteration
            double ubsw = Seconds(() => MaddUbsw(Vector256.Create((sbyte)1))) / cycleSeconds / (12.0 * Iterations);
            double wd = Seconds(() => MaddWd(Vector256.Create((short)1))) / cycleSeconds / (12.0 * Iterations);
            double fma = Seconds(() => FmaChains(Vector256.Create(1.0001f), Vector256.Create(0.9999f))) / cycleSeconds / (10.0 * Iterations);
            double mix = Seconds(() => Mixed(Vector256.Create((short)1), Vector256.Create(1.0001f), Vector256.Create(0.9999f))) / cycleSeconds / Iterations;
            double int8Macs = 32 / (ubsw + wd), floatMacs = 8 / fma;
            Console.WriteLine($"| {r} | {1e-9 / cycleSeconds:F2} | {ubsw:F2} | {wd:F2} | {fma:F2} | {mix:F1} | {int8Macs:F1} | {floatMacs:F1} |");
        }
    }

    private static double Seconds(Func<object> loop)
    {
        var watch = Stopwatch.StartNew();
        var sink = loop();
        double seconds = watch.Elapsed.TotalSeconds;
        if (sink.GetHashCode() == 42) Console.Write("");   // keep the result alive
        return seconds;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int AddChain(int x)
    {
        for (int i = 0; i < Iterations * 4; i++) { x += i; x ^= 3; }
        return x;
    }

    // The loops return vectors, boxed by the caller: returning object made the JIT keep every chain on the stack.
    // Each chain feeds its own result back as the next multiplicand, so no instruction can be hoisted out of the loop.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Vector256<short> MaddUbsw(Vector256<sbyte> b)
    {
        Vector256<short> s0 = Vector256.Create((short)1), s1 = s0 + s0, s2 = s1 + s0, s3 = s2 + s0, s4 = s3 + s0, s5 = s4 + s0,
            s6 = s5 + s0, s7 = s6 + s0, s8 = s7 + s0, s9 = s8 + s0, s10 = s9 + s0, s11 = s10 + s0;
        for (int i = 0; i < Iterations; i++)
        {
            s0 = Avx2.MultiplyAddAdjacent(s0.AsByte(), b); s1 = Avx2.MultiplyAddAdjacent(s1.AsByte(), b);
            s2 = Avx2.MultiplyAddAdjacent(s2.AsByte(), b); s3 = Avx2.MultiplyAddAdjacent(s3.AsByte(), b);
            s4 = Avx2.MultiplyAddAdjacent(s4.AsByte(), b); s5 = Avx2.MultiplyAddAdjacent(s5.AsByte(), b);
            s6 = Avx2.MultiplyAddAdjacent(s6.AsByte(), b); s7 = Avx2.MultiplyAddAdjacent(s7.AsByte(), b);
            s8 = Avx2.MultiplyAddAdjacent(s8.AsByte(), b); s9 = Avx2.MultiplyAddAdjacent(s9.AsByte(), b);
            s10 = Avx2.MultiplyAddAdjacent(s10.AsByte(), b); s11 = Avx2.MultiplyAddAdjacent(s11.AsByte(), b);
        }
        return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9 + s10 + s11;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Vector256<int> MaddWd(Vector256<short> b)
    {
        Vector256<int> s0 = Vector256.Create(1), s1 = s0 + s0, s2 = s1 + s0, s3 = s2 + s0, s4 = s3 + s0, s5 = s4 + s0,
            s6 = s5 + s0, s7 = s6 + s0, s8 = s7 + s0, s9 = s8 + s0, s10 = s9 + s0, s11 = s10 + s0;
        for (int i = 0; i < Iterations; i++)
        {
            s0 = Avx2.MultiplyAddAdjacent(s0.AsInt16(), b); s1 = Avx2.MultiplyAddAdjacent(s1.AsInt16(), b);
            s2 = Avx2.MultiplyAddAdjacent(s2.AsInt16(), b); s3 = Avx2.MultiplyAddAdjacent(s3.AsInt16(), b);
            s4 = Avx2.MultiplyAddAdjacent(s4.AsInt16(), b); s5 = Avx2.MultiplyAddAdjacent(s5.AsInt16(), b);
            s6 = Avx2.MultiplyAddAdjacent(s6.AsInt16(), b); s7 = Avx2.MultiplyAddAdjacent(s7.AsInt16(), b);
            s8 = Avx2.MultiplyAddAdjacent(s8.AsInt16(), b); s9 = Avx2.MultiplyAddAdjacent(s9.AsInt16(), b);
            s10 = Avx2.MultiplyAddAdjacent(s10.AsInt16(), b); s11 = Avx2.MultiplyAddAdjacent(s11.AsInt16(), b);
        }
        return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9 + s10 + s11;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> FmaChains(Vector256<float> a, Vector256<float> b)
    {
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default, s8 = default, s9 = default;
        for (int i = 0; i < Iterations; i++)
        {
            s0 = Fma.MultiplyAdd(a, b, s0); s1 = Fma.MultiplyAdd(a, b, s1); s2 = Fma.MultiplyAdd(a, b, s2); s3 = Fma.MultiplyAdd(a, b, s3);
            s4 = Fma.MultiplyAdd(a, b, s4); s5 = Fma.MultiplyAdd(a, b, s5); s6 = Fma.MultiplyAdd(a, b, s6); s7 = Fma.MultiplyAdd(a, b, s7);
            s8 = Fma.MultiplyAdd(a, b, s8); s9 = Fma.MultiplyAdd(a, b, s9);
        }
        return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> Mixed(Vector256<short> h, Vector256<float> a, Vector256<float> b)
    {
        Vector256<int> s0 = Vector256.Create(1), s1 = s0 + s0, s2 = s1 + s0, s3 = s2 + s0, s4 = s3 + s0, s5 = s4 + s0;
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default, f4 = default, f5 = default, f6 = default, f7 = default, f8 = default, f9 = default;
        for (int i = 0; i < Iterations; i++)
        {
            s0 = Avx2.MultiplyAddAdjacent(s0.AsInt16(), h); s1 = Avx2.MultiplyAddAdjacent(s1.AsInt16(), h); s2 = Avx2.MultiplyAddAdjacent(s2.AsInt16(), h);
            s3 = Avx2.MultiplyAddAdjacent(s3.AsInt16(), h); s4 = Avx2.MultiplyAddAdjacent(s4.AsInt16(), h); s5 = Avx2.MultiplyAddAdjacent(s5.AsInt16(), h);
            f0 = Fma.MultiplyAdd(a, b, f0); f1 = Fma.MultiplyAdd(a, b, f1); f2 = Fma.MultiplyAdd(a, b, f2); f3 = Fma.MultiplyAdd(a, b, f3);
            f4 = Fma.MultiplyAdd(a, b, f4); f5 = Fma.MultiplyAdd(a, b, f5); f6 = Fma.MultiplyAdd(a, b, f6); f7 = Fma.MultiplyAdd(a, b, f7);
            f8 = Fma.MultiplyAdd(a, b, f8); f9 = Fma.MultiplyAdd(a, b, f9);
        }
        return (s0 + s1 + s2 + s3 + s4 + s5).AsSingle() + f0 + f1 + f2 + f3 + f4 + f5 + f6 + f7 + f8 + f9;
    }
}
