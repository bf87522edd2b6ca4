namespace EdgeShortcut.ManagedBench;

/// <summary>
/// Waits until the process's other threads have stopped using CPU, so that one sweep contender does not run beside the
/// previous one's leftovers. ONNX Runtime's pool threads spin after a run: with a fixed 20 ms pause they still took 40-50
/// ms of CPU during the next contender's 110-130 ms decode (Zen 2 VM, d256), which slowed it by up to 2x, and an ORT
/// int8 contender ran beside the float32 session's spinning worker. Linux only (per-thread CPU times from /proc); elsewhere
/// a fixed pause.
/// </summary>
internal static class OtherThreadsQuiet
{
    /// <summary>Sleeps in 20 ms steps (two clock ticks at the usual 100 Hz) until a step passes in which no thread of this
    /// process but the main one used CPU, or <paramref name="limitMs"/> has passed; returns the milliseconds waited.</summary>
    public static int Wait(int limitMs = 1000)
    {
        const int stepMs = 20;
        if (!OperatingSystem.IsLinux())
        {
            Thread.Sleep(stepMs);
            return stepMs;
        }
        long before = OtherThreadsTicks();
        int waited = 0;
        while (waited < limitMs)
        {
            Thread.Sleep(stepMs);
            waited += stepMs;
            long now = OtherThreadsTicks();
            if (now == before) break;
            before = now;
        }
        return waited;
    }

    /// <summary>User plus system clock ticks of every thread of this process but the main one (whose thread id is the
    /// process id: the sweep runs there).</summary>
    private static long OtherThreadsTicks()
    {
        long sum = 0;
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            if (Path.GetFileName(task) == Environment.ProcessId.ToString()) continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');   // after "pid (name) ": state is field 0
                sum += long.Parse(fields[11]) + long.Parse(fields[12]);         // utime, stime
            }
            catch (IOException) { }   // a thread that ended meanwhile
        }
        return sum;
    }
}
