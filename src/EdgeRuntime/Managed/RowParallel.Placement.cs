namespace EdgeShortcut.Runtime.Managed;

// Where a sleeping helper wakes up (see CpuPlacement): off the CPU its caller keeps running on.
internal sealed partial class RowParallel
{
    /// <summary>Releases the sleeping helper; if it has slept over <see cref="PlacedWakeTicks"/>, after restricting it to the
    /// CPUs it may use other than this thread's, so that the kernel does not wake it on the CPU the caller keeps running on
    /// (<see cref="CpuPlacement"/>); it takes those CPUs back as soon as it runs (<see cref="TakeBackCpus"/>). The helper's
    /// CPUs are read here, at each such wake, so that an affinity the application gave it meanwhile is kept; and only while no
    /// restriction is outstanding (so what is read is never one of ours, and the helper never restores from a mask being written).</summary>
    private void WakeHelper()
    {
        int helper = Volatile.Read(ref _helperTid);
        if (helper > 0 && Volatile.Read(ref _helperKeptOff) == 0 &&
            System.Diagnostics.Stopwatch.GetTimestamp() - Volatile.Read(ref _sleep.SleptAt) > PlacedWakeTicks &&
            CpuPlacement.ReadAffinity(helper, _helperCpus) && CpuPlacement.KeepOff(helper, _helperCpus, CpuPlacement.Current()))
            Volatile.Write(ref _helperKeptOff, 1);
        _wake.Release();   // a full fence: the helper sees the mask and the flag
    }

    /// <summary>A helper asleep longer than this is woken off the caller's CPU. The misplaced wakes came after the cores had
    /// idled (a user's first prompt); a decode step wakes a helper that slept microseconds about a dozen times a token at 25M,
    /// and the two system calls a wake then cost made that decode 2-6% slower.</summary>
    public static readonly long PlacedWakeTicks = System.Diagnostics.Stopwatch.Frequency / 1000;   // 1 ms

    private int _helperTid = -1;         // the helper's kernel thread id (-1: unknown, not Linux)
    private readonly ulong[] _helperCpus = new ulong[CpuPlacement.MaskWords];   // its CPUs before the restricted wake
    private int _helperKeptOff;          // 1 from a restricted wake until the helper has restored its CPUs
    private int _wakesPlaced;

    /// <summary>Run by the helper when it wakes: it gives itself back its CPUs if the caller restricted them, and only then
    /// lets the caller restrict the next wake.</summary>
    private void TakeBackCpus()
    {
        if (Volatile.Read(ref _helperKeptOff) == 0) return;
        if (CpuPlacement.Restore(_helperCpus)) Interlocked.Increment(ref _wakesPlaced);
        Volatile.Write(ref _helperKeptOff, 0);
    }

    /// <summary>Wake-ups of the sleeping helper that were kept off the caller's CPU (diagnostics and tests).</summary>
    public int WakesPlaced => Volatile.Read(ref _wakesPlaced);

    /// <summary>The helper's kernel thread id, or -1 (tests).</summary>
    internal int HelperThreadId => Volatile.Read(ref _helperTid);
}
