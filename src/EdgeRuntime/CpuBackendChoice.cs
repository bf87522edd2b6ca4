using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Runtime;

/// <summary>
/// Which CPU backend <see cref="BackendKind.Auto"/> runs when there is no DirectML: the one that decodes
/// faster on this CPU at this model size, as measured by the size sweep (<c>ManagedBench sweep</c>,
/// docs/BENCHMARKS.md "Size sweep"), not a guess. The rule, from those numbers:
/// <list type="bullet">
/// <item>The managed engine, when the CPU has AVX2 + FMA (its vector kernels for both activation modes),
/// the file is int8 and the model is no larger than the largest size measured
/// (<see cref="LargestMeasuredParameters"/>). Measured at equal threads on int8 files of 1.3M-88M
/// parameters, best mode against best mode: managed decode leads ONNX Runtime's CPU provider at every
/// size (<see cref="MeasuredDecodeLead"/> over the sessions' sweeps; the lead is smallest at 85-88M, where both engines are
/// bound by the memory bandwidth: 2.7-3.2x there since the eighteenth session) on a 2-core AVX2-only VM (the sweep of
/// docs/BENCHMARKS.md), and
/// by 1.6-3.4x on a 2-core Zen 5 with AVX-512 + AVX-VNNI (issue 13's measurements).</item>
/// <item>ONNX Runtime's CPU provider otherwise: without AVX2 + FMA the managed engine's float32-activation
/// kernel runs its scalar reference path (no ARM vector path yet), fp32 files were not measured, and
/// beyond the largest measured size there is no evidence either way.</item>
/// </list>
/// Decode, not prefill, decides: a generation of n tokens makes n decode steps and one prefill.
/// </summary>
/// <param name="Kind"><see cref="BackendKind.Managed"/> or <see cref="BackendKind.Cpu"/>.</param>
/// <param name="Why">One clause for <see cref="EdgeModel.BackendReason"/>.</param>
internal sealed record CpuBackendChoice(BackendKind Kind, string Why)
{
    /// <summary>Parameters of the largest model the sweep measured (d768/L12 shortcut, taps {4,8}, m = d: 87.8M), rounded up.</summary>
    public const long LargestMeasuredParameters = 90_000_000;

    /// <summary>The sweep's decode ratio, managed over ONNX Runtime, best mode against best mode, equal threads.</summary>
    public const string MeasuredDecodeLead = "1.03-11x";

    /// <summary>The faster CPU backend for a model of <paramref name="parameters"/> parameters stored as
    /// <paramref name="precision"/> (<see cref="OnnxMetadata.Int8"/> or <see cref="OnnxMetadata.Fp32"/>) on <paramref name="cpu"/>.</summary>
    public static CpuBackendChoice For(CpuFeatures cpu, long parameters, string precision)
    {
        string size = $"{parameters / 1e6:F1}M parameters";
        if (!cpu.Avx2Fma)
            return new(BackendKind.Cpu, $"this CPU ({cpu}) lacks the managed engine's vector kernels, so ONNX Runtime's CPU provider is the faster CPU backend");
        if (precision != OnnxMetadata.Int8)
            return new(BackendKind.Cpu, $"an {precision} file: the managed engine's speed was measured on int8 files only, so ONNX Runtime's CPU provider");
        if (parameters > LargestMeasuredParameters)
            return new(BackendKind.Cpu, $"{size} is beyond the largest size measured ({LargestMeasuredParameters / 1e6:F0}M), so ONNX Runtime's CPU provider");
        return new(BackendKind.Managed, $"on this CPU ({cpu}) the managed engine decodes faster than ONNX Runtime's CPU provider at {size} " +
            $"(measured {MeasuredDecodeLead} at equal threads, 1.3M-88M parameters; docs/BENCHMARKS.md, \"Size sweep\")");
    }

    /// <summary>The choice for <paramref name="file"/> on this machine.</summary>
    public static CpuBackendChoice For(ModelFileInfo file) =>
        For(CpuFeatures.Current, TensorNames.ParameterCount(file.Config), file.Precision);
}
