using System.Runtime.InteropServices;
using X86 = System.Runtime.Intrinsics.X86;

namespace EdgeShortcut.Runtime;

/// <summary>
/// The instruction sets the managed engine's kernels are built on, as a value so that the backend
/// choice can be tested with any CPU (<see cref="CpuBackendChoice"/>).
/// </summary>
/// <param name="Architecture">The process architecture.</param>
/// <param name="Avx2Fma">AVX2 and FMA: the weight-only int8 kernel's vector path (float32 activations).</param>
/// <param name="Avx512F">AVX-512F: its 16-lane path.</param>
/// <param name="AvxVnni">AVX-VNNI: the int8-activation kernel's <c>vpdpbusd</c> path.</param>
internal sealed record CpuFeatures(Architecture Architecture, bool Avx2Fma, bool Avx512F, bool AvxVnni)
{
    /// <summary>This machine.</summary>
    public static CpuFeatures Current { get; } = new(RuntimeInformation.ProcessArchitecture,
        X86.Avx2.IsSupported && X86.Fma.IsSupported, X86.Avx512F.IsSupported, X86.AvxVnni.IsSupported);

    /// <summary>The names of the supported sets, e.g. <c>"x64: AVX2+FMA, AVX-512F, AVX-VNNI"</c>.</summary>
    public override string ToString()
    {
        var sets = new List<string>();
        if (Avx2Fma) sets.Add("AVX2+FMA");
        if (Avx512F) sets.Add("AVX-512F");
        if (AvxVnni) sets.Add("AVX-VNNI");
        return $"{Architecture.ToString().ToLowerInvariant()}: {(sets.Count == 0 ? "no AVX2" : string.Join(", ", sets))}";
    }
}
