using System.Diagnostics;
using System.Runtime.Intrinsics;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// The machine's read bandwidth from DRAM, measured in the same process and at the same thread count as
/// the contenders, so that decode's achieved bytes/s can be set against what the machine really gives
/// right now (a shared VM's bandwidth moves with its neighbours). Each thread sums its slice of a buffer
/// eight times larger than the L3 in two ways, taking turns pass by pass: as one stream of plain loads, and as the AVX2
/// int8 matvec reads streamed weights since the eighteenth session (four streams a quarter of the slice apart with
/// <c>prefetchnta</c>, which reads faster on the Zen 2 VM: docs/BENCHMARKS.md). The best pass of either is reported, so a kernel
/// is set against the fastest read this probe knows, not the one it happens to use.
/// </summary>
internal static class ReadBandwidth
{
    /// <summary>Bytes read per pass: 256 MiB, 8x this machine's 32 MiB L3.</summary>
    public const long BufferBytes = 256L << 20;

    private static byte[]? s_buffer;

    /// <summary>GB/s (1e9 bytes) of the best of <paramref name="passes"/> passes over <see cref="BufferBytes"/> with <paramref name="threads"/> threads.</summary>
    public static double Measure(int threads, int passes = 5)
    {
        var buffer = s_buffer ??= CreateBuffer();
        double best = 0;
        for (int pass = 0; pass < passes; pass++)
            foreach (bool asMatVec in new[] { false, true })
            {
                long t0 = Stopwatch.GetTimestamp();
                long sink = 0;
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
                {
                    long slice = BufferBytes / threads;
                    var part = buffer.AsSpan((int)(i * slice), (int)slice);
                    Interlocked.Add(ref sink, asMatVec ? SumAsMatVec(part) : Sum(part));
                });
                double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (sink == 42) Console.Write("");   // keeps the sums observable
                best = Math.Max(best, BufferBytes / seconds / 1e9);
            }
        return best;
    }

    private static byte[] CreateBuffer()
    {
        var b = GC.AllocateUninitializedArray<byte>((int)BufferBytes, pinned: true);
        new Random(1).NextBytes(b);   // touches every page, so the passes time reads, not page faults
        return b;
    }

    /// <summary>A cheap reduction that needs every byte: four independent 512-bit XOR chains.</summary>
    private static long Sum(ReadOnlySpan<byte> data)
    {
        var ints = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(data);
        ref long p = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(ints);
        Vector512<long> a = default, b = default, c = default, d = default;
        int i = 0;
        for (; i + 32 <= ints.Length; i += 32)
        {
            a ^= Vector512.LoadUnsafe(ref p, (nuint)i);
            b ^= Vector512.LoadUnsafe(ref p, (nuint)(i + 8));
            c ^= Vector512.LoadUnsafe(ref p, (nuint)(i + 16));
            d ^= Vector512.LoadUnsafe(ref p, (nuint)(i + 24));
        }
        long s = Vector512.Sum(a ^ b ^ c ^ d);
        for (; i < ints.Length; i++) s ^= ints[i];
        return s;
    }

    /// <summary>The same reduction read as the AVX2 int8 matvec reads streamed weights: <see cref="Int8MatVec.MemoryStreams"/>
    /// parts of <paramref name="data"/> side by side, a cache line of each in turn, each prefetched
    /// <see cref="Int8MatVec.NonTemporalPrefetchBytes"/> ahead with the non-temporal hint.</summary>
    private static unsafe long SumAsMatVec(ReadOnlySpan<byte> data)
    {
        int streams = Int8MatVec.MemoryStreams;
        long part = data.Length / streams / 64 * 64;
        Vector256<long> a = default, b = default;
        fixed (byte* p = data)
        {
            for (long i = 0; i < part; i += 64)
                for (int k = 0; k < streams; k++)
                {
                    byte* line = p + k * part + i;
                    if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
                        System.Runtime.Intrinsics.X86.Sse.PrefetchNonTemporal(line + Int8MatVec.NonTemporalPrefetchBytes);
                    a ^= Vector256.Load((long*)line);
                    b ^= Vector256.Load((long*)(line + 32));
                }
            long s = Vector256.Sum(a ^ b);
            for (long i = streams * part; i < data.Length; i++) s ^= p[i];   // the few bytes past the parts
            return s;
        }
    }
}
