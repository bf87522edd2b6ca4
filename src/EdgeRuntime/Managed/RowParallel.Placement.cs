namespace EdgeShortcut.Runtime.Managed;

// Where a sleeping helper wakes up (see CpuPlacement): off the CPU its caller keeps running on.
internal sealed partial class RowParallel
{
    /// <summary>Releases the sleeping helper; if it has slept over <see cref="PlacedWakeTicks"/>, after restricting it to the
    /// CPUs other than this thread's, so that the kernel does not wake it on the CPU the caller keeps running on
    /// (<see cref="CpuPlacement"/>); it takes its own CPUs back as soon as it runs (<see cref="TakeBackCpus"/>).</summary>
    private void WakeHelper()
    {
        int helper = Volatile.Read(ref _helperTid);   // set after _helperCpus (release), so both are the helper's
        if (helper > 0 && System.Diagnostics.Stopwatch.GetTimestamp() - Volatile.Read(ref _sleep.SleptAt) > PlacedWakeTicks &&
            CpuPlacement.KeepOff(helper, _helperCpus, CpuPlacement.Current()))
            Volatile.Write(ref _helperKeptOff, 1);
        _wake.Release();
    }

    /// <summary>A helper asleep longer than this is woken off the caller's CPU. The misplaced wakes came after the cores had
    /// idled (a user's first prompt); a decode step wakes a helper that slept microseconds about a dozen times a token at 25M,
    /// and the two system calls a wake then cost made that decode 2-6% slower.</summary>
    public static readonly long PlacedWakeTicks = System.Diagnostics.Stopwatch.Frequency / 1000;   // 1 ms

    private int _helperTid = -1;         // the helper's kernel thread id (-1: unknown, not Linux)
    private ulong[]? _helperCpus;        // the helper's own CPUs, read when it started
    private int _helperKeptOff;          // 1 while the helper runs restricted by WakeHelper
    private int _wakesPlaced;

    /// <summary>Run by the helper when it wakes: it gives itself back its own CPUs if the caller restricted them.</summary>
    private void TakeBackCpus()
    {
        if (Interlocked.Exchange(ref _helperKeptOff, 0) == 1 && CpuPlacement.Restore(_helperCpus)) Interlocked.Increment(ref _wakesPlaced);
    }

    /// <summary>Wake-ups of the sleeping helper that were kept off the caller's CPU (diagnostics and tests).</summary>
    public int WakesPlaced => Volatile.Read(ref _wakesPlaced);

    /// <summary>The helper's kernel thread id, or -1 (tests).</summary>
    internal int HelperThreadId => Volatile.Read(ref _helperTid);
}
