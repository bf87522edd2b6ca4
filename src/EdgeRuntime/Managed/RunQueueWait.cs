using System.Runtime.InteropServices;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// How long the calling thread has waited on the scheduler's run queue: runnable but not running, because
/// other threads had the cores (Linux <c>/proc/thread-self/schedstat</c>: run time, wait time, slices, in ns).
/// Unlike wall time against CPU time it does not count the time a thread sleeps, so an app that pauses between
/// tokens does not look contended. Read with raw <c>open</c>/<c>read</c>/<c>close</c> into a stack buffer: no
/// managed allocation (decode allocates nothing). Elsewhere than Linux it reports nothing.
/// </summary>
internal static unsafe partial class RunQueueWait
{
    /// <summary>Nanoseconds the calling thread has waited runnable so far, or -1 where it cannot be read.</summary>
    public static long Nanoseconds()
    {
        if (!OperatingSystem.IsLinux()) return -1;
        ReadOnlySpan<byte> path = "/proc/thread-self/schedstat\0"u8;
        int fd;
        fixed (byte* p = path) fd = Open(p, 0);
        if (fd < 0) return -1;
        byte* buffer = stackalloc byte[96];
        nint n = Read(fd, buffer, 96);
        Close(fd);
        if (n <= 0) return -1;
        // "<run ns> <wait ns> <slices>\n": the second number.
        var text = new ReadOnlySpan<byte>(buffer, (int)n);
        int first = text.IndexOf((byte)' ');
        if (first < 0) return -1;
        long wait = 0;
        for (int i = first + 1; i < text.Length && text[i] is >= (byte)'0' and <= (byte)'9'; i++) wait = wait * 10 + (text[i] - '0');
        return wait;
    }

    [LibraryImport("libc", EntryPoint = "open")]
    private static partial int Open(byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "read")]
    private static partial nint Read(int fd, byte* buffer, nint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
