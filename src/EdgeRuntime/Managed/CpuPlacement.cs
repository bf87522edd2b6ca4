using System.Runtime.InteropServices;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// Where a sleeping helper thread wakes up (Linux): its caller restricts it to the CPUs other than the caller's just before
/// waking it, and the helper takes its own affinity (as it was just before the wake) back once it runs.
/// <para>Why: after both vCPUs of the Zen 2 VM had idled for 30 ms, the kernel woke the helper of a 256-token prefill on
/// the very CPU its caller kept running on in 13 of 28 prefills. The two then took turns on one core while the other idled:
/// the helper ran 2 of a prefill's ~15 jobs (15 when it was woken without a pause), and a d128 prefill took as long on two
/// threads as on one (10.8-11.5 ms against 6.6 back to back). Moving the helper once it ran gave 7.8-9.6 ms; keeping it off
/// the caller's CPU before the wake 5.9-7.6 ms (docs/BENCHMARKS.md, "Sixteenth session").</para>
/// Elsewhere (and when a call fails) every method does nothing: the scheduler places the helper as it will.
/// </summary>
internal static unsafe partial class CpuPlacement
{
    /// <summary>Words of a CPU mask: 1024 CPUs, glibc's <c>cpu_set_t</c>.</summary>
    public const int MaskWords = 16;

    /// <summary>The CPU this thread runs on now, or -1 where that is unknown.</summary>
    public static int Current()
    {
        if (!OperatingSystem.IsLinux()) return -1;
        try { return sched_getcpu(); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return -1; }
    }

    /// <summary>This thread's kernel id, or -1 where there is none to use.</summary>
    public static int ThreadId()
    {
        if (!OperatingSystem.IsLinux()) return -1;
        try { return gettid(); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return -1; }
    }

    /// <summary>The CPUs thread <paramref name="tid"/> (0: this one) may run on, or null where that is unknown.</summary>
    public static ulong[]? Affinity(int tid)
    {
        var mask = new ulong[MaskWords];
        return ReadAffinity(tid, mask) ? mask : null;
    }

    /// <summary>Reads the CPUs thread <paramref name="tid"/> (0: this one) may run on into <paramref name="mask"/>
    /// (<see cref="MaskWords"/> words); returns whether it could. Allocates nothing.</summary>
    public static bool ReadAffinity(int tid, ulong[] mask)
    {
        if (!OperatingSystem.IsLinux() || tid < 0 || mask.Length != MaskWords) return false;
        try
        {
            fixed (ulong* m = mask) return sched_getaffinity(tid, MaskWords * 8, m) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    /// <summary>Restricts thread <paramref name="tid"/> to the CPUs of <paramref name="mask"/> but <paramref name="cpu"/>, when
    /// that leaves one; returns whether it did. Allocates nothing (a decode step may call it).</summary>
    public static bool KeepOff(int tid, ulong[]? mask, int cpu)
    {
        if (!OperatingSystem.IsLinux() || tid <= 0 || mask is not { Length: MaskWords } || cpu < 0 || cpu >= MaskWords * 64) return false;
        ulong* without = stackalloc ulong[MaskWords];
        bool other = false;
        for (int i = 0; i < MaskWords; i++)
        {
            without[i] = i == cpu / 64 ? mask[i] & ~(1UL << (cpu % 64)) : mask[i];
            other |= without[i] != 0;
        }
        if (!other) return false;
        try { return sched_setaffinity(tid, MaskWords * 8, without) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    /// <summary>Sets this thread's CPUs to <paramref name="mask"/>; returns whether it did.</summary>
    public static bool Restore(ulong[]? mask)
    {
        if (!OperatingSystem.IsLinux() || mask is not { Length: MaskWords }) return false;
        try
        {
            fixed (ulong* m = mask) return sched_setaffinity(0, MaskWords * 8, m) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    [LibraryImport("libc")]
    private static partial int sched_getcpu();

    [LibraryImport("libc")]
    private static partial int gettid();

    [LibraryImport("libc")]
    private static partial int sched_getaffinity(int pid, nint size, ulong* mask);

    [LibraryImport("libc")]
    private static partial int sched_setaffinity(int pid, nint size, ulong* mask);
}
