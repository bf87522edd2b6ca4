using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using EdgeShortcut.Measure;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// How steady this machine's read bandwidth is, and what a decode step's job structure costs it: two threads (the caller
/// and one dedicated thread) read a 96 MiB buffer, each its half of every piece, with a barrier between pieces (a decode
/// step reads its weights matrix by matrix, and the next matrix waits for both threads), then in two plain halves with and
/// without a software prefetch, and each half (or half-piece) as several streams a fraction of it apart, read side by side
/// a cache line (or a turn) of each at a time: the pattern that showed this VM serving four streams a thread far faster than
/// one, which the AVX2 int8 matvec now reads (docs/BENCHMARKS.md, "Eighteenth session"). The contenders take turns pass by pass (<see cref="RoundOrder"/>), so a change in the
/// host's bandwidth reaches all of them alike; every contender's min / median / max over the passes shows how far one
/// pass can move. Why: the 85M decode's last few percent to its target were below the run-to-run spread of this VM
/// (docs/BENCHMARKS.md, "Seventeenth session"); check the spread here before trusting a small A/B.
/// </summary>
internal static unsafe class BandwidthProbe
{
    private const long BufferBytes = 96L << 20;

    private enum Hint { None, T0, Nta }

    private sealed record Contender(string Name, long PieceBytes, Hint Hint, int Ahead, int Streams = 1, int Turn = 64);

    public static void Run(int rounds)
    {
        var contenders = new[]
        {
            new Contender("halves, plain loads", BufferBytes, Hint.None, 0),
            new Contender("halves, prefetcht0 512 B ahead", BufferBytes, Hint.T0, 512),
            new Contender("halves, prefetchnta 1 KiB ahead (the int8 matvec until the eighteenth session)", BufferBytes, Hint.Nta, 1024),
            new Contender("halves, prefetchnta 4 KiB ahead", BufferBytes, Hint.Nta, 4096),
            new Contender("halves, 2 streams a thread, prefetchnta 256 B ahead", BufferBytes, Hint.Nta, 256, 2),
            new Contender($"halves, {Int8MatVec.MemoryStreams} streams a thread, prefetchnta {Int8MatVec.NonTemporalPrefetchBytes} B ahead (the int8 matvec)",
                BufferBytes, Hint.Nta, Int8MatVec.NonTemporalPrefetchBytes, Int8MatVec.MemoryStreams),
            new Contender("halves, 4 streams a thread, plain loads", BufferBytes, Hint.None, 0, 4),
            new Contender("halves, 4 streams a thread in turns of 1 KiB, prefetchnta 256 B ahead", BufferBytes, Hint.Nta, 256, 4, 1024),
            new Contender("halves, 4 streams a thread in turns of 6 KiB (a d768 row group), prefetchnta 256 B ahead", BufferBytes, Hint.Nta, 256, 4, 6144),
            new Contender("halves, 8 streams a thread, prefetchnta 256 B ahead", BufferBytes, Hint.Nta, 256, 8),
            new Contender("pieces of 256 KiB (a d768 projection's half-chunk), barrier between", 256 << 10, Hint.None, 0),
            new Contender("pieces of 256 KiB, prefetchnta 1 KiB ahead", 256 << 10, Hint.Nta, 1024),
            new Contender("pieces of 256 KiB, 4 streams a thread, prefetchnta 256 B ahead", 256 << 10, Hint.Nta, 256, 4),
            new Contender("pieces of 2 MiB (a d768 MLP matrix), barrier between", 2 << 20, Hint.None, 0),
            new Contender("pieces of 2 MiB, prefetchnta 1 KiB ahead", 2 << 20, Hint.Nta, 1024),
            new Contender("pieces of 2 MiB, 4 streams a thread, prefetchnta 256 B ahead", 2 << 20, Hint.Nta, 256, 4),
        };
        byte* buffer = (byte*)NativeMemory.AlignedAlloc((nuint)BufferBytes, 4096);
        try
        {
            new Span<byte>(buffer, (int)BufferBytes).Fill(1);   // every page touched: the passes time reads, not faults
            using var pair = new ThreadPair();
            var rates = contenders.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r <= rounds; r++)
                foreach (int k in RoundOrder.Of(contenders.Length, r))
                {
                    double seconds = pair.Time(contenders[k], buffer);
                    if (r > 0) rates[k].Add(BufferBytes / seconds / 1e9);   // round 0 warms up
                }
            Console.WriteLine($"read bandwidth, 2 threads, {BufferBytes >> 20} MiB a pass, {rounds} passes each, interleaved; load average {LoadAverage.Read()}");
            Console.WriteLine("| pattern | GB/s min | median | max |");
            Console.WriteLine("|---|---|---|---|");
            for (int k = 0; k < contenders.Length; k++)
                Console.WriteLine($"| {contenders[k].Name} | {rates[k].Min():F1} | {Stats.Median(rates[k]):F1} | {rates[k].Max():F1} |");
        }
        finally { NativeMemory.AlignedFree(buffer); }
    }

    /// <summary>The caller and one dedicated thread, each reading its half of every piece; a spin barrier between pieces.</summary>
    private sealed class ThreadPair : IDisposable
    {
        private readonly Thread _other;
        private Contender? _job;
        private byte* _buffer;
        private int _posted, _finished, _arrived;
        private volatile bool _disposed;
        private long _sink;

        public ThreadPair()
        {
            _other = new Thread(Loop) { IsBackground = true, Name = "bandwidth probe" };
            _other.Start();
        }

        public double Time(Contender job, byte* buffer)
        {
            _job = job;
            _buffer = buffer;
            _arrived = 0;
            long t0 = Stopwatch.GetTimestamp();
            int ticket = Interlocked.Increment(ref _posted);
            Read(0);
            while (Volatile.Read(ref _finished) != ticket) Thread.SpinWait(8);
            return Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }

        private void Loop()
        {
            int seen = 0;
            while (!_disposed)
            {
                if (Volatile.Read(ref _posted) == seen) { Thread.SpinWait(8); continue; }
                seen = Volatile.Read(ref _posted);
                Read(1);
                Volatile.Write(ref _finished, seen);
            }
        }

        private void Read(int half)
        {
            var job = _job!;
            long pieces = BufferBytes / job.PieceBytes, share = job.PieceBytes / 2;
            Vector256<byte> a = default, b = default;
            for (long k = 0; k < pieces; k++)
            {
                byte* p = _buffer + k * job.PieceBytes + half * share, end = p + share;
                if (job.Streams > 1)
                {
                    // The streams side by side, a turn (a cache line unless told) of each in order; leftovers below.
                    long stride = share / job.Streams / job.Turn * job.Turn;
                    for (byte* q = p; q < p + stride; q += job.Turn)
                        for (int s = 0; s < job.Streams; s++)
                            for (byte* r = q + s * stride; r < q + s * stride + job.Turn; r += 64)
                                ReadLine(r, job, ref a, ref b);
                    p += job.Streams * stride;
                }
                for (; p < end; p += 64) ReadLine(p, job, ref a, ref b);
                // Both halves of piece k are read before either thread starts piece k + 1.
                Interlocked.Increment(ref _arrived);
                while (Volatile.Read(ref _arrived) < 2 * (k + 1)) Thread.SpinWait(1);
            }
            Interlocked.Add(ref _sink, (a ^ b).AsInt64().GetElement(0));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void ReadLine(byte* line, Contender job, ref Vector256<byte> a, ref Vector256<byte> b)
        {
            if (job.Hint == Hint.T0) Sse.Prefetch0(line + job.Ahead);
            else if (job.Hint == Hint.Nta) Sse.PrefetchNonTemporal(line + job.Ahead);
            a ^= Avx.LoadAlignedVector256(line);
            b ^= Avx.LoadAlignedVector256(line + 32);
        }

        public void Dispose()
        {
            _disposed = true;
            _other.Join();
        }
    }
}
