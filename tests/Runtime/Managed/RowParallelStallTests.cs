using System.Diagnostics;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13, one busy core: when the helper thread stalls mid-job (descheduled on a busy machine), the
/// caller stops waiting for it: the jobs of the next few milliseconds run on the caller alone, then the helper is tried again.</summary>
public unsafe class RowParallelStallTests
{
    private static int s_caller, s_helperChunks, s_rowsDone;
    private static volatile bool s_helperSleeps;

    /// <summary>A job whose chunks take ~100 us on the caller (so the helper gets to claim some) and, while
    /// <see cref="s_helperSleeps"/>, 20 ms on the helper: a stall as the scheduler would cause it.</summary>
    private static void Job(void* context, int start, int end)
    {
        Interlocked.Add(ref s_rowsDone, end - start);
        if (Environment.CurrentManagedThreadId != s_caller)
        {
            Interlocked.Increment(ref s_helperChunks);
            if (s_helperSleeps) Thread.Sleep(20);
            return;
        }
        long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10_000;
        while (Stopwatch.GetTimestamp() < until) Thread.SpinWait(10);
    }

    [Fact]
    public void A_stalled_helper_is_bypassed_for_a_while_and_then_tried_again()
    {
        if (Environment.ProcessorCount < 2) return;   // the helper needs a second core to claim chunks in time
        long stretch = Stopwatch.Frequency / 5;   // 200 ms instead of 2: room for a slow test host
        using var p = new RowParallel(soloTicksAfterStall: stretch);
        s_caller = Environment.CurrentManagedThreadId;
        s_helperSleeps = true;
        const int rows = 1024;
        for (int i = 0; i < 200 && p.Stalls == 0; i++)
        {
            s_rowsDone = 0;
            p.Run(&Job, null, rows);
            Assert.Equal(rows, s_rowsDone);   // every row exactly once, stall or not
        }
        Assert.Equal(1, p.Stalls);
        long stallSeen = Stopwatch.GetTimestamp();   // the solo stretch was set just before Run returned
        s_helperSleeps = false;

        // Jobs in the first quarter of the stretch all run on the caller alone.
        int helperChunks = s_helperChunks, jobs = 0;
        do
        {
            s_rowsDone = 0;
            p.Run(&Job, null, rows);
            Assert.Equal(rows, s_rowsDone);
            jobs++;
        }
        while (Stopwatch.GetTimestamp() < stallSeen + stretch / 4);
        Assert.Equal(jobs, p.SoloRuns);
        Assert.Equal(helperChunks, s_helperChunks);   // the helper got nothing while bypassed

        while (Stopwatch.GetTimestamp() < stallSeen + stretch) Thread.SpinWait(10);
        for (int i = 0; i < 200 && s_helperChunks == helperChunks; i++) p.Run(&Job, null, rows);
        Assert.True(s_helperChunks > helperChunks, "the helper is used again after the solo stretch");
        // (No exact count of stalls here: on a busy machine a real one can happen in this last loop too.)
    }
}

/// <summary>A helper core that sat idle runs its first job after the pause slowly (a Zen 2 VM: ~2x for ~2 ms); that wait is
/// no sign of a busy machine, so it does not send the caller solo. The same wait on a job posted back to back does.</summary>
public unsafe class ColdStartTests
{
    private static volatile bool s_helperStarted;
    private static int s_caller;

    /// <summary>Halves: the caller's waits (bounded) until the helper has started its half, so the helper surely runs one;
    /// the helper's takes 20 ms, far beyond <see cref="RowParallel.StallTicks"/> and the caller's own share.</summary>
    private static void SlowHelperHalf(void* context, int start, int end)
    {
        if (start == 0 && end == *(int*)context) return;   // a solo run: nothing to wait for
        if (Environment.CurrentManagedThreadId != s_caller || start != 0)
        {
            s_helperStarted = true;
            Thread.Sleep(20);
            return;
        }
        var until = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
        while (!s_helperStarted && Stopwatch.GetTimestamp() < until) Thread.SpinWait(20);
    }

    private static void RunSlowJob(RowParallel p)
    {
        int rows = 64;
        s_helperStarted = false;
        p.RunHalves(&SlowHelperHalf, &rows, rows, 32);
    }

    [Fact]
    public void A_slow_first_job_after_an_idle_pause_is_no_stall_but_the_same_wait_back_to_back_is()
    {
        if (Environment.ProcessorCount < 2) return;
        using var p = new RowParallel(soloTicksAfterStall: 1);
        s_caller = Environment.CurrentManagedThreadId;
        RunSlowJob(p);                      // the pool's first job: a cold start
        Assert.Equal(0, p.Stalls);
        RunSlowJob(p);                      // right after the last one ended
        Assert.Equal(1, p.Stalls);
        Thread.Sleep(TimeSpan.FromTicks(3 * RowParallel.ColdGapTicks * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
        RunSlowJob(p);                      // after a pause three times the cold gap
        Assert.Equal(1, p.Stalls);
        Assert.Equal(3, p.TwoThreadJobs);   // all three ran on both threads (the 1-tick solo stretch had ended)
    }
}

/// <summary>Issue 13, one busy core: a helper that runs (almost) none of the chunks, because the caller has finished each
/// job before the helper gets a core, is not woken for a while. Alone (not beside other test classes), so that timing
/// stays as designed.</summary>
[Collection(AloneCollection.Name)]
public unsafe class IdleHelperTests
{
    private static void Nothing(void* context, int start, int end) { }

    [Fact]
    public void Jobs_finished_before_the_helper_wakes_send_the_caller_solo()
    {
        using var p = new RowParallel();
        for (int i = 0; i < 3 * RowParallel.ContentionWindowJobs && p.IdleHelperWindows == 0; i++)
        {
            // A pause between jobs (as a decode step's serial work) lets the helper fall asleep; each empty job is then
            // done long before the woken helper gets to it.
            long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 5_000;
            while (Stopwatch.GetTimestamp() < until) Thread.SpinWait(10);
            p.Run(&Nothing, null, 64, rowAlignment: 1);
        }
        Assert.True(p.IdleHelperWindows >= 1, $"helper chunks {p.HelperChunks} of {p.TwoThreadJobs} jobs");
        int offered = p.TwoThreadJobs;
        for (int i = 0; i < 10; i++) p.Run(&Nothing, null, 64, rowAlignment: 1);
        Assert.Equal(offered, p.TwoThreadJobs);   // the next jobs run solo: no wake, no hand-off
        Assert.True(p.SoloRuns >= 10);
    }

    [Theory]
    [InlineData(0, 512, true)]
    [InlineData(51, 512, true)]      // 10.0% of the chunks: just short
    [InlineData(52, 512, false)]
    [InlineData(256, 512, false)]    // an idle machine: about half
    public void A_window_is_idle_when_the_helper_ran_less_than_a_tenth_of_its_chunks(int helperChunks, int windowChunks, bool idle) =>
        Assert.Equal(idle, RowParallel.HelperWasIdle(helperChunks, windowChunks));
}

/// <summary>The run-queue clock the contention check reads: zero-allocation, monotonic, and it grows when the
/// thread competes for the cores.</summary>
public class RunQueueWaitTests
{
    [Fact]
    public void The_run_queue_wait_grows_while_more_threads_than_cores_spin_and_reading_it_allocates_nothing()
    {
        if (!OperatingSystem.IsLinux()) { Assert.Equal(-1, RunQueueWait.Nanoseconds()); return; }
        RunQueueWait.Nanoseconds();
        long bytes = GC.GetAllocatedBytesForCurrentThread();
        long before = RunQueueWait.Nanoseconds();
        Assert.Equal(bytes, GC.GetAllocatedBytesForCurrentThread());
        Assert.True(before >= 0);

        using var stop = new CancellationTokenSource();
        var spinners = Enumerable.Range(0, 2 * Environment.ProcessorCount)
            .Select(_ => new Thread(() => { while (!stop.IsCancellationRequested) Thread.SpinWait(100); }) { IsBackground = true }).ToList();
        spinners.ForEach(t => t.Start());
        long until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 5;   // spin here too for 200 ms
        while (Stopwatch.GetTimestamp() < until) Thread.SpinWait(100);
        stop.Cancel();
        spinners.ForEach(t => t.Join());
        long after = RunQueueWait.Nanoseconds();
        Assert.True(after > before, $"run-queue wait {before} -> {after} ns with {spinners.Count} spinning threads on {Environment.ProcessorCount} cores");
    }
}
