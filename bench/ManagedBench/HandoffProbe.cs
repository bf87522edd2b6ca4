using System.Diagnostics;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// How long a cache line written by one thread takes to reach the other (the two threads the engine runs on): two
/// threads pass a counter back and forth through one shared line, and a pass is half a round trip. Why: on this VM the
/// two vCPUs may sit on different core complexes, where this is ~220 ns instead of the ~50-80 ns within one, and then
/// every activation row one thread writes and the other reads costs that much per 64 bytes (RowParallel.RunHalves).
/// Also runs a register-only multiply-add loop alone and on both threads at once: equal times mean two real cores
/// (not two hyper-threads of one).
/// </summary>
internal static unsafe class HandoffProbe
{
    private static readonly long[] s_line = new long[32];   // the counter sits at [16], away from the array header

    public static void Run(int rounds)
    {
        Console.WriteLine($"| round | one-way hand-off ns | FMA loop alone ms | both threads ms | a RowParallel job's work on one thread, us | beyond half of it on two, us: 8 chunks / halves / 8 chunks in a burst |");
        Console.WriteLine("|---|---|---|---|---|---|");
        using var parallel = new EdgeShortcut.Runtime.Managed.RowParallel();
        for (int r = 0; r < rounds; r++)
        {
            double handoff = HandoffNanoseconds(200_000);
            double alone = FmaLoopMs();
            double other = 0;
            var thread = new Thread(() => other = FmaLoopMs());
            thread.Start();
            double mine = FmaLoopMs();
            thread.Join();
            var (work, chunked, halves, burst) = JobOverheadMicroseconds(parallel, 20_000);
            Console.WriteLine($"| {r + 1} | {handoff:F0} | {alone:F0} | {mine:F0} / {other:F0} | {work:F2} | {chunked:F2} / {halves:F2} / {burst:F2} |");
            Thread.Sleep(300);
        }
    }

    private static double HandoffNanoseconds(int passes)
    {
        Volatile.Write(ref s_line[16], 0);
        var partner = new Thread(() =>
        {
            for (long i = 0; i < passes; i++)
            {
                while (Volatile.Read(ref s_line[16]) != 2 * i + 1) { }
                Volatile.Write(ref s_line[16], 2 * i + 2);
            }
        });
        partner.Start();
        long start = Stopwatch.GetTimestamp();
        for (long i = 0; i < passes; i++)
        {
            Volatile.Write(ref s_line[16], 2 * i + 1);
            while (Volatile.Read(ref s_line[16]) != 2 * i + 2) { }
        }
        double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / (2.0 * passes);
        partner.Join();
        return ns;
    }

    /// <summary>What sharing one job with the helper costs beyond its work, with jobs back to back as in a decode step: a job
    /// of 128 rows whose every row is ~20 ns of register work (a 768x768 matvec takes ~10 us), cut into 8 claimed chunks or two
    /// halves; the excess is the two-thread time minus half the same job's time on one thread.</summary>
    private static (double Work, double Chunked, double Halves, double Burst) JobOverheadMicroseconds(EdgeShortcut.Runtime.Managed.RowParallel parallel, int jobs)
    {
        for (int i = 0; i < 1000; i++) { parallel.Run(&Work, null, 128); Work(null, 0, 128); }   // warm-up: the code jitted
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < jobs; i++) Work(null, 0, 128);
        double alone = Stopwatch.GetElapsedTime(start).TotalMicroseconds / jobs;
        start = Stopwatch.GetTimestamp();
        for (int i = 0; i < jobs; i++) parallel.Run(&Work, null, 128);
        double chunked = Stopwatch.GetElapsedTime(start).TotalMicroseconds / jobs;
        start = Stopwatch.GetTimestamp();
        for (int i = 0; i < jobs; i++) parallel.RunHalves(&Work, null, 128, 64);
        double halves = Stopwatch.GetElapsedTime(start).TotalMicroseconds / jobs;
        parallel.BeginBurst();
        start = Stopwatch.GetTimestamp();
        for (int i = 0; i < jobs; i++) parallel.Run(&Work, null, 128);
        double burst = Stopwatch.GetElapsedTime(start).TotalMicroseconds / jobs;
        parallel.EndBurst();
        return (alone, chunked - alone / 2, halves - alone / 2, burst - alone / 2);
    }

    private static void Work(void* context, int start, int end)
    {
        float a = start;
        for (int r = start; r < end; r++)
            for (int i = 0; i < 16; i++) a = MathF.FusedMultiplyAdd(a, 0.999f, 0.001f);
        if (a == 42f) Console.Write("");
    }

    /// <summary>Eight independent chains of 256-bit multiply-adds (enough to fill both FMA pipes of a Zen core).</summary>
    private static double FmaLoopMs()
    {
        var m = System.Runtime.Intrinsics.Vector256.Create(0.9999f);
        var c = System.Runtime.Intrinsics.Vector256.Create(0.0001f);
        var a0 = System.Runtime.Intrinsics.Vector256<float>.One;
        var (a1, a2, a3, a4, a5, a6, a7) = (a0, a0, a0, a0, a0, a0, a0);
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < 20_000_000; i++)
        {
            a0 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a0, m, c); a1 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a1, m, c);
            a2 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a2, m, c); a3 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a3, m, c);
            a4 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a4, m, c); a5 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a6, m, c); a7 = System.Runtime.Intrinsics.Vector256.FusedMultiplyAdd(a7, m, c);
        }
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if ((a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7)[0] == 42f) Console.Write("");   // keeps the loop alive
        return ms;
    }
}
