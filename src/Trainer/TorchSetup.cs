using System.Runtime.InteropServices;

namespace EdgeShortcut.Trainer;

/// <summary>
/// Process-wide settings that must be in place before libtorch loads (its OpenMP runtime reads
/// the environment once, when the library is first loaded by the first torch call).
/// </summary>
public static partial class TorchSetup
{
    /// <summary>
    /// Sets <c>OMP_WAIT_POLICY=PASSIVE</c> unless the user set it. Why: with the default active
    /// policy an OpenMP thread spins at every barrier; on a shared 2-core machine its partner is
    /// often descheduled, and a 2-thread training step measured 53 s instead of 12 s with passive
    /// waits (d128/L6, load average ~20; docs/BENCHMARKS.md). Call it first thing in <c>Main</c>, or
    /// before any torch call when training in-process. A no-op on Windows and after libtorch loaded.
    /// </summary>
    public static void PreferPassiveOpenMpWaits()
    {
        if (OperatingSystem.IsWindows() || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        // Environment.SetEnvironmentVariable only changes .NET's copy on Unix; libgomp reads the C environment.
        _ = SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0);
        Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
