using System.Diagnostics;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>A sleeping helper is woken on a CPU other than its caller's, and then has its own CPUs back
/// (<see cref="CpuPlacement"/>): the kernel had woken it on the caller's CPU, where the two took turns while the other core idled.</summary>
public unsafe class HelperPlacementTests
{
    private struct Record
    {
        public int CallerCpu, HelperCpu;
        public volatile bool HelperStarted;
    }

    // Two halves: the caller notes its CPU and waits (bounded) until the helper has started its half, which notes its CPU.
    private static void RecordCpus(void* context, int start, int end)
    {
        ref Record r = ref *(Record*)context;
        if (start == 0)
        {
            r.CallerCpu = CpuPlacement.Current();
            var until = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
            while (!r.HelperStarted && Stopwatch.GetTimestamp() < until) Thread.SpinWait(20);
            return;
        }
        r.HelperCpu = CpuPlacement.Current();
        r.HelperStarted = true;
    }

    private static int Count(ulong[] mask) => mask.Sum(w => System.Numerics.BitOperations.PopCount(w));

    private static ulong[] OnlyCpu(int cpu)
    {
        var mask = new ulong[CpuPlacement.MaskWords];
        mask[cpu / 64] = 1UL << (cpu % 64);
        return mask;
    }

    /// <summary>Waits until the idle helper sleeps, then long enough for its wake to be a placed one (as before a prompt).</summary>
    private static void LetTheHelperSleepLong(RowParallel parallel)
    {
        Assert.True(SpinWait.SpinUntil(() => parallel.HelperSleeping, TimeSpan.FromSeconds(10)), "the idle helper never went to sleep");
        Thread.Sleep(TimeSpan.FromTicks(10 * RowParallel.PlacedWakeTicks * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
    }

    [Fact]
    public void A_sleeping_helper_wakes_off_the_callers_cpu_and_takes_its_own_cpus_back()
    {
        if (!OperatingSystem.IsLinux())
        {
            // Elsewhere the scheduler places the helper: nothing is restricted.
            using var elsewhere = new RowParallel();
            var r = new Record();
            elsewhere.RunHalves(&RecordCpus, &r, 2, 1);
            Assert.Equal(0, elsewhere.WakesPlaced);
            return;
        }
        var own = CpuPlacement.Affinity(0)!;
        int cpu = CpuPlacement.Current();
        Assert.InRange(cpu, 0, CpuPlacement.MaskWords * 64 - 1);
        using var parallel = new RowParallel();
        // The caller stays on one CPU for the test, so that "its CPU" means one thing.
        Assert.True(CpuPlacement.Restore(OnlyCpu(cpu)));
        try
        {
            LetTheHelperSleepLong(parallel);
            var helperCpus = CpuPlacement.Affinity(parallel.HelperThreadId)!;
            var record = new Record();
            parallel.RunHalves(&RecordCpus, &record, 2, 1);
            Assert.True(record.HelperStarted, "the helper never ran its half");
            Assert.Equal(cpu, record.CallerCpu);
            if (Count(helperCpus) > 1)
            {
                Assert.NotEqual(record.CallerCpu, record.HelperCpu);
                Assert.Equal(1, parallel.WakesPlaced);
            }
            else Assert.Equal(0, parallel.WakesPlaced);   // one CPU: nowhere else to wake it
            // The restriction lasted for the wake only.
            Assert.Equal(helperCpus, CpuPlacement.Affinity(parallel.HelperThreadId));
        }
        finally { CpuPlacement.Restore(own); }
    }

    [Fact]
    public void Cpus_the_application_gave_the_helper_after_it_started_are_kept_across_a_wake()
    {
        if (!OperatingSystem.IsLinux()) return;   // nothing is restricted elsewhere (previous test)
        var own = CpuPlacement.Affinity(0)!;
        int cpu = CpuPlacement.Current();
        if (Count(own) < 2)
        {
            Assert.False(CpuPlacement.KeepOff(CpuPlacement.ThreadId(), own, cpu));   // one CPU: nothing to narrow
            return;
        }
        using var parallel = new RowParallel();
        Assert.True(CpuPlacement.Restore(OnlyCpu(cpu)));
        try
        {
            Assert.True(SpinWait.SpinUntil(() => parallel.HelperThreadId > 0, TimeSpan.FromSeconds(10)));
            // As an application might: the helper may use every CPU but the caller's.
            Assert.True(CpuPlacement.KeepOff(parallel.HelperThreadId, own, cpu));
            var given = CpuPlacement.Affinity(parallel.HelperThreadId)!;
            LetTheHelperSleepLong(parallel);
            var record = new Record();
            parallel.RunHalves(&RecordCpus, &record, 2, 1);
            Assert.True(record.HelperStarted, "the helper never ran its half");
            Assert.Equal(given, CpuPlacement.Affinity(parallel.HelperThreadId));
        }
        finally { CpuPlacement.Restore(own); }
    }

    [Fact]
    public void Keeping_a_thread_off_its_only_cpu_leaves_its_cpus_alone()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Equal(-1, CpuPlacement.Current());
            Assert.Null(CpuPlacement.Affinity(0));
            Assert.False(CpuPlacement.KeepOff(1, new ulong[CpuPlacement.MaskWords], 0));
            Assert.False(CpuPlacement.Restore(new ulong[CpuPlacement.MaskWords]));
            return;
        }
        var own = CpuPlacement.Affinity(0)!;
        int cpu = CpuPlacement.Current();
        Assert.False(CpuPlacement.KeepOff(CpuPlacement.ThreadId(), OnlyCpu(cpu), cpu));
        Assert.Equal(own, CpuPlacement.Affinity(0));
        Assert.False(CpuPlacement.KeepOff(CpuPlacement.ThreadId(), null, cpu));
        Assert.False(CpuPlacement.KeepOff(-1, own, cpu));
        Assert.False(CpuPlacement.Restore(null));
        Assert.Equal(own, CpuPlacement.Affinity(0));
    }
}
