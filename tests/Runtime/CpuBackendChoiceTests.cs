using System.Runtime.InteropServices;
using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime;

/// <summary>Issue 13: with no DirectML, Auto runs the CPU backend that the size sweep measured faster, decided from
/// the CPU's instruction sets, the file's precision and the model's size; the explicit override still wins.</summary>
public class CpuBackendChoiceTests
{
    private static readonly CpuFeatures Zen5 = new(Architecture.X64, Avx2Fma: true, Avx512F: true, AvxVnni: true);
    private static readonly CpuFeatures Avx2Only = new(Architecture.X64, Avx2Fma: true, Avx512F: false, AvxVnni: false);
    private static readonly CpuFeatures OldX64 = new(Architecture.X64, Avx2Fma: false, Avx512F: false, AvxVnni: false);
    private static readonly CpuFeatures Arm = new(Architecture.Arm64, Avx2Fma: false, Avx512F: false, AvxVnni: false);

    [Theory]
    [InlineData(1_700_000)]      // the default model's size
    [InlineData(26_000_000)]
    [InlineData(CpuBackendChoice.LargestMeasuredParameters)]
    public void An_x64_CPU_with_AVX2_and_FMA_runs_int8_files_up_to_the_largest_measured_size_on_the_managed_engine(long parameters)
    {
        foreach (var cpu in new[] { Zen5, Avx2Only })
        {
            var choice = CpuBackendChoice.For(cpu, parameters, "int8");
            Assert.Equal(BackendKind.Managed, choice.Kind);
            Assert.Contains("decodes faster", choice.Why);
            Assert.Contains("AVX2+FMA", choice.Why);
        }
        Assert.Contains("AVX-512F, AVX-VNNI", CpuBackendChoice.For(Zen5, parameters, "int8").Why);
    }

    [Fact]
    public void Without_AVX2_and_FMA_the_ONNX_Runtime_CPU_provider_is_chosen()
    {
        foreach (var cpu in new[] { OldX64, Arm })
        {
            var choice = CpuBackendChoice.For(cpu, 1_700_000, "int8");
            Assert.Equal(BackendKind.Cpu, choice.Kind);
            Assert.Contains("lacks the managed engine's vector kernels", choice.Why);
        }
        Assert.Contains("arm64", CpuBackendChoice.For(Arm, 1_700_000, "int8").Why);
    }

    [Fact]
    public void Beyond_the_largest_measured_size_or_for_an_fp32_file_there_is_no_evidence_and_ONNX_Runtime_is_kept()
    {
        var big = CpuBackendChoice.For(Zen5, CpuBackendChoice.LargestMeasuredParameters + 1, "int8");
        Assert.Equal(BackendKind.Cpu, big.Kind);
        Assert.Contains("beyond the largest size measured", big.Why);
        var fp32 = CpuBackendChoice.For(Zen5, 1_700_000, "fp32");
        Assert.Equal(BackendKind.Cpu, fp32.Kind);
        Assert.Contains("int8 files only", fp32.Why);
    }

    private sealed class Named(BackendKind kind) : IInferenceBackend
    {
        public BackendKind Kind => kind;
        public int Threads => 1;
        public ModelConfig Config => FakeBackend.ByteConfig();
        public IInferenceSequence CreateSequence() => throw new NotSupportedException();
        public void Dispose() { }
    }

    private static (BackendSelector, List<BackendKind>) Selector(string[] providers, CpuBackendChoice choice)
    {
        var tried = new List<BackendKind>();
        return (new BackendSelector(() => providers, k => { tried.Add(k); return new Named(k); }, choice), tried);
    }

    [Fact]
    public void Auto_without_DirectML_runs_the_faster_CPU_backend_and_says_why()
    {
        var managedFaster = CpuBackendChoice.For(Zen5, 26_000_000, "int8");
        var (s, tried) = Selector(["CPUExecutionProvider"], managedFaster);
        var (backend, reason) = s.Select(BackendKind.Auto);
        Assert.Equal(BackendKind.Managed, backend.Kind);
        Assert.Equal([BackendKind.Managed], tried);   // ONNX Runtime's session is never opened
        Assert.StartsWith("managed engine: DirectML is not available", reason);
        Assert.Contains(managedFaster.Why, reason);

        var (s2, tried2) = Selector(["CPUExecutionProvider"], CpuBackendChoice.For(Arm, 26_000_000, "int8"));
        var (backend2, reason2) = s2.Select(BackendKind.Auto);
        Assert.Equal(BackendKind.Cpu, backend2.Kind);
        Assert.Equal([BackendKind.Cpu], tried2);
        Assert.Contains("lacks the managed engine's vector kernels", reason2);
    }

    [Fact]
    public void DirectML_still_comes_first_and_explicit_requests_still_override_the_speed_rule()
    {
        var managedFaster = CpuBackendChoice.For(Zen5, 26_000_000, "int8");
        var (s, _) = Selector(["DmlExecutionProvider", "CPUExecutionProvider"], managedFaster);
        Assert.Equal(BackendKind.DirectML, s.Select(BackendKind.Auto).Backend.Kind);
        Assert.Equal(BackendKind.Cpu, s.Select(BackendKind.Cpu).Backend.Kind);
        var (s2, _) = Selector(["CPUExecutionProvider"], CpuBackendChoice.For(Arm, 26_000_000, "int8"));
        Assert.Equal(BackendKind.Managed, s2.Select(BackendKind.Managed).Backend.Kind);
    }

    [Fact]
    public void The_shipped_default_model_runs_on_the_managed_engine_here_when_the_CPU_has_AVX2_and_FMA()
    {
        using var model = EdgeModel.Load(Path.Combine(RepoPaths.Root(), "models", "default.onnx"));
        var expected = CpuFeatures.Current.Avx2Fma ? BackendKind.Managed : BackendKind.Cpu;
        Assert.Equal(expected, model.Backend);
        Assert.Contains(CpuBackendChoice.For(model.File).Why, model.BackendReason);
    }
}
