namespace EdgeShortcut.Runtime;

/// <summary>
/// How many threads one model call uses, one definition for every CPU backend so that they are compared
/// at equal threads (issue 13). The managed engine runs a call on the calling thread plus at most one
/// helper (<c>Managed/RowParallel</c>), so its count is <c>min(cores, 2)</c>; ONNX Runtime's CPU provider
/// gets the same count unless <see cref="EdgeModelOptions.Threads"/> says otherwise.
/// Why not ONNX Runtime's own default: left at 0, ONNX Runtime 1.31 sizes its intra-op pool by physical
/// cores (2 on the 2-core VM the measurements come from) and pins its worker thread to a core; an
/// explicit count creates unpinned workers, like the managed engine's helper, and stays equal to the
/// managed engine's count on machines with more cores (docs/RUNTIME.md, "Threads").
/// </summary>
internal static class ThreadBudget
{
    /// <summary>The most threads the managed engine puts on one call: the caller and one helper.</summary>
    public const int ManagedMax = 2;

    /// <summary>The default count on a machine with <paramref name="processorCount"/> logical cores.</summary>
    public static int Default(int processorCount) => Math.Clamp(processorCount, 1, ManagedMax);

    /// <summary>ONNX Runtime's intra-op threads for <paramref name="requested"/> (0 = <see cref="Default"/> here).</summary>
    public static int ForOnnxRuntime(int requested) => requested > 0 ? requested : Default(Environment.ProcessorCount);

    /// <summary>The managed engine's threads for <paramref name="requested"/> (0 = <see cref="Default"/> here):
    /// at most <see cref="ManagedMax"/>, and 1 on a one-core machine whatever is asked.</summary>
    public static int ForManaged(int requested) =>
        Environment.ProcessorCount < 2 ? 1 : requested > 0 ? Math.Min(requested, ManagedMax) : Default(Environment.ProcessorCount);
}
