namespace EdgeShortcut.Tests.Runtime;

/// <summary>
/// Bytes the calling thread allocates in consecutive windows of decode steps. A steady allocation per token shows in
/// every window; the runtime's own one-time work shows in one window at most: a tier-up or an on-stack replacement
/// that lands late on a loaded machine allocated 2,864 B once (depth-policy test) and 8,040 B once (bfloat16-cache test,
/// in CI's full run) inside a window that had been warmed up.
/// </summary>
internal static class SteadyStateAllocations
{
    /// <summary>Runs <paramref name="windows"/> windows of <paramref name="stepsPerWindow"/> calls of
    /// <paramref name="step"/> (its argument counts the steps from 0) and returns each window's allocated bytes.</summary>
    public static long[] PerWindow(Action<int> step, int windows, int stepsPerWindow)
    {
        var bytes = new long[windows];
        int i = 0;
        for (int w = 0; w < windows; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int k = 0; k < stepsPerWindow; k++) step(i++);
            bytes[w] = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        return bytes;
    }

    /// <summary>Asserts that at most one window allocated anything (see the class summary for why one may).</summary>
    public static void AssertNoneBeyondOneWindow(long[] windows)
    {
        Assert.True(windows.Length >= 3, $"{windows.Length} windows: too few to tell a one-time cost from a steady one");
        Assert.True(windows.Count(b => b != 0) <= 1, $"bytes allocated per window: {string.Join(", ", windows)}");
    }
}
