using EdgeShortcut.Core;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.Tests.Runtime;

public class BackendSelectionTests
{
    private sealed class Named(BackendKind kind) : IInferenceBackend
    {
        public BackendKind Kind => kind;
        public int Threads => 1;
        public ModelConfig Config => FakeBackend.ByteConfig();
        public IInferenceSequence CreateSequence() => throw new NotSupportedException();
        public void Dispose() { }
    }

    private static readonly string[] CpuOnly = ["CPUExecutionProvider"];
    private static readonly string[] WithDml = ["DmlExecutionProvider", "CPUExecutionProvider"];

    /// <summary>The CPU choice of a machine where ONNX Runtime's CPU provider is the faster CPU backend.</summary>
    private static readonly CpuBackendChoice OrtFaster = new(BackendKind.Cpu, "ONNX Runtime is faster here (test)");

    /// <summary>A selector whose factory fails for the kinds in <paramref name="failing"/>.</summary>
    private static (BackendSelector Selector, List<BackendKind> Tried) Selector(Func<IReadOnlyCollection<string>> providers,
        Dictionary<BackendKind, Exception>? failing = null, CpuBackendChoice? cpuChoice = null)
    {
        var tried = new List<BackendKind>();
        var selector = new BackendSelector(providers, kind =>
        {
            tried.Add(kind);
            if (failing is not null && failing.TryGetValue(kind, out var e)) throw e;
            return new Named(kind);
        }, cpuChoice ?? OrtFaster);
        return (selector, tried);
    }

    [Fact]
    public void Auto_takes_DirectML_when_it_is_listed_and_its_session_is_created()
    {
        var (s, _) = Selector(() => WithDml);
        var (backend, reason) = s.Select(BackendKind.Auto);
        Assert.Equal(BackendKind.DirectML, backend.Kind);
        Assert.Contains("DmlExecutionProvider is available", reason);
    }

    [Fact]
    public void Auto_falls_back_to_the_CPU_provider_when_the_DirectML_session_fails()
    {
        var (s, tried) = Selector(() => WithDml, new() { [BackendKind.DirectML] = new EntryPointNotFoundException("OrtSessionOptionsAppendExecutionProvider_DML") });
        var (backend, reason) = s.Select(BackendKind.Auto);
        Assert.Equal(BackendKind.Cpu, backend.Kind);
        Assert.Equal([BackendKind.DirectML, BackendKind.Cpu], tried);
        Assert.Contains("session failed", reason);
        Assert.Contains("OrtSessionOptionsAppendExecutionProvider_DML", reason);
    }

    [Fact]
    public void Auto_uses_the_CPU_provider_when_DirectML_is_not_listed_and_says_so()
    {
        var (s, tried) = Selector(() => CpuOnly);
        var (backend, reason) = s.Select(BackendKind.Auto);
        Assert.Equal(BackendKind.Cpu, backend.Kind);
        Assert.Equal([BackendKind.Cpu], tried);
        Assert.Contains("DirectML is not available (providers: CPUExecutionProvider)", reason);
    }

    [Fact]
    public void Auto_falls_back_to_the_managed_engine_when_the_native_library_is_missing()
    {
        var (s, tried) = Selector(() => throw new TypeInitializationException("Microsoft.ML.OnnxRuntime.NativeMethods", new DllNotFoundException("libonnxruntime.so")));
        var (backend, reason) = s.Select(BackendKind.Auto);
        Assert.Equal(BackendKind.Managed, backend.Kind);
        Assert.Equal([BackendKind.Managed], tried);
        Assert.Contains("libonnxruntime.so", reason);
    }

    [Fact]
    public void Auto_falls_back_to_the_managed_engine_when_the_CPU_session_cannot_load_natives()
    {
        var (s, tried) = Selector(() => CpuOnly, new() { [BackendKind.Cpu] = new DllNotFoundException("onnxruntime") });
        var (backend, reason) = s.Select(BackendKind.Auto);
        Assert.Equal(BackendKind.Managed, backend.Kind);
        Assert.Equal([BackendKind.Cpu, BackendKind.Managed], tried);
        Assert.Contains("CPU provider cannot load", reason);
    }

    [Fact]
    public void Auto_does_not_hide_a_broken_model_file_behind_a_fallback()
    {
        var bad = new CheckpointFormatException("m.onnx", "corrupt");
        var (s, tried) = Selector(() => CpuOnly, new() { [BackendKind.Cpu] = bad });
        Assert.Same(bad, Assert.Throws<CheckpointFormatException>(() => s.Select(BackendKind.Auto)));
        Assert.Equal([BackendKind.Cpu], tried);
    }

    [Fact]
    public void An_explicit_DirectML_request_without_DirectML_is_an_error_not_a_silent_fallback()
    {
        var (s, tried) = Selector(() => CpuOnly);
        var ex = Assert.Throws<NotSupportedException>(() => s.Select(BackendKind.DirectML));
        Assert.Contains("CPUExecutionProvider", ex.Message);
        Assert.Empty(tried);
    }

    [Fact]
    public void An_explicit_CPU_request_without_natives_is_an_error_that_suggests_managed()
    {
        var (s, _) = Selector(() => CpuOnly, new() { [BackendKind.Cpu] = new DllNotFoundException("onnxruntime") });
        var ex = Assert.Throws<NotSupportedException>(() => s.Select(BackendKind.Cpu));
        Assert.Contains("Managed", ex.Message);
    }

    [Theory]
    [InlineData(BackendKind.Cpu)]
    [InlineData(BackendKind.Managed)]
    public void Explicit_requests_get_exactly_that_backend(BackendKind kind)
    {
        var (s, tried) = Selector(() => WithDml);
        Assert.Equal(kind, s.Select(kind).Backend.Kind);
        Assert.Equal([kind], tried);
    }

    [Fact]
    public void On_this_machine_ONNX_Runtime_lists_no_DirectML_and_the_real_DirectML_request_fails_clearly()
    {
        var providers = EdgeShortcut.Runtime.Onnx.OnnxRuntimeBackend.AvailableProviders();
        Assert.Contains("CPUExecutionProvider", providers);
        if (OperatingSystem.IsWindows()) return;   // the DirectML build may really have it there
        Assert.DoesNotContain(BackendSelector.DirectMLProvider, providers);
        var (s, _) = Selector(EdgeShortcut.Runtime.Onnx.OnnxRuntimeBackend.AvailableProviders);
        Assert.Throws<NotSupportedException>(() => s.Select(BackendKind.DirectML));
    }
}
