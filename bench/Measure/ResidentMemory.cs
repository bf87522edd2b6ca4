namespace EdgeShortcut.Measure;

/// <summary>
/// The process's resident memory (<c>VmRSS</c> in <c>/proc/self/status</c>): what a loaded model really
/// costs, native allocations (ONNX Runtime) included, which the GC's counters do not see.
/// </summary>
public static class ResidentMemory
{
    /// <summary>Resident bytes now, or -1 where <c>/proc/self/status</c> does not exist.</summary>
    public static long Bytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;   // "VmRSS:   12345 kB"
        }
        catch (IOException) { }
        return -1;
    }

    /// <summary>Resident bytes after two full, compacting collections with finalizers run in between, so
    /// garbage (load-time copies) no longer counts; what stays is live data plus what the GC keeps committed.</summary>
    public static long BytesAfterFullGc()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return Bytes();
    }
}
