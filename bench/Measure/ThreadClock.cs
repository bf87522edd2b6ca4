using System.Diagnostics;
using System.Runtime.InteropServices;

namespace EdgeShortcut.Measure;

/// <summary>
/// CPU time consumed by the calling thread (Linux <c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>).
/// On a shared, oversubscribed machine wall-clock time mostly measures the other processes; the
/// thread's own CPU time measures the work. Elsewhere it falls back to wall-clock time.
/// </summary>
public static partial class ThreadClock
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds; public long Nanoseconds; }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>True when the thread CPU clock is available (Linux).</summary>
    public static bool IsThreadCpuTime { get; } = OperatingSystem.IsLinux() && ClockGetTime(ClockThreadCpuTimeId, out _) == 0;

    /// <summary>Seconds of CPU time used by this thread so far (or wall-clock seconds where unavailable).</summary>
    public static double Seconds()
    {
        if (IsThreadCpuTime && ClockGetTime(ClockThreadCpuTimeId, out var t) == 0) return t.Seconds + t.Nanoseconds * 1e-9;
        return Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
    }
}
