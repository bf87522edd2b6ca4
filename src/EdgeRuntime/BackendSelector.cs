using EdgeShortcut.Core;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Onnx;

namespace EdgeShortcut.Runtime;

/// <summary>
/// Chooses the backend for <see cref="EdgeModelOptions.Backend"/> and says why. Auto: DirectML when
/// ONNX Runtime lists <c>DmlExecutionProvider</c> and the session is created; else the CPU backend that is
/// faster for this model on this CPU (<paramref name="cpuChoice"/>, from the size sweep's measurements:
/// the managed engine on x64 with AVX2 + FMA); the CPU provider falls back to the managed engine when
/// ONNX Runtime's native library cannot load. An explicit choice that is not available throws
/// <see cref="NotSupportedException"/> instead of silently running elsewhere. The provider list, the
/// backend factory and the CPU choice are injected so the logic is testable anywhere.
/// <para><paramref name="managedOnly"/>, when set, is why only the managed engine can honour the options (a bfloat16
/// cache): Auto then picks it, and an explicit ONNX Runtime backend throws.</para>
/// </summary>
internal sealed class BackendSelector(Func<IReadOnlyCollection<string>> availableProviders, Func<BackendKind, IInferenceBackend> create, CpuBackendChoice cpuChoice,
    string? managedOnly = null)
{
    public const string DirectMLProvider = "DmlExecutionProvider";

    /// <summary>The real selector for a model file: ONNX Runtime's provider list and real backends.</summary>
    public static BackendSelector ForFile(ModelFileInfo file, EdgeModelOptions options) => new(
        () => OnnxRuntimeBackend.AvailableProviders(),
        kind => kind == BackendKind.Managed ? ManagedBackend.Load(file, options.Activations, options.Threads, options.KeyValueCache) : new OnnxRuntimeBackend(file, kind, options),
        CpuBackendChoice.For(file),
        options.KeyValueCache == KeyValueCachePrecision.Float32 ? null
            : $"KeyValueCache = {options.KeyValueCache} is a managed-engine option (the ONNX graph's caches are float32)");

    /// <summary>Creates the backend; returns it with a one-line reason for the choice.</summary>
    public (IInferenceBackend Backend, string Reason) Select(BackendKind requested)
    {
        if (managedOnly is not null && requested is BackendKind.Cpu or BackendKind.DirectML)
            throw new NotSupportedException($"{managedOnly}; use Backend = Managed or Auto.");
        if (managedOnly is not null && requested == BackendKind.Auto)
            return (create(BackendKind.Managed), $"managed engine: {managedOnly}");
        switch (requested)
        {
            case BackendKind.Managed:
                return (create(BackendKind.Managed), "managed engine: requested");
            case BackendKind.Cpu:
                try { return (create(BackendKind.Cpu), "ONNX Runtime CPU provider: requested"); }
                catch (Exception e) when (IsNativeLoadFailure(e))
                {
                    throw new NotSupportedException($"The CPU backend was requested but ONNX Runtime's native library cannot be loaded ({Describe(e)}). Use Backend = Managed or Auto.", e);
                }
            case BackendKind.DirectML:
                var providers = Providers(out var failure);
                if (providers is null)
                    throw new NotSupportedException($"DirectML was requested but ONNX Runtime's native library cannot be loaded ({Describe(failure!)}).", failure);
                if (!providers.Contains(DirectMLProvider))
                    throw new NotSupportedException($"DirectML was requested but ONNX Runtime here offers only [{string.Join(", ", providers)}] (DirectML needs Windows and the Microsoft.ML.OnnxRuntime.DirectML build). Use Backend = Auto or Cpu.");
                return (create(BackendKind.DirectML), "ONNX Runtime DirectML provider: requested");
            case BackendKind.Auto:
                return SelectAuto();
            default:
                throw new ArgumentException($"Backend {(int)requested} is not a BackendKind.", nameof(requested));
        }
    }

    private (IInferenceBackend, string) SelectAuto()
    {
        var providers = Providers(out var failure);
        if (providers is null)
            return (create(BackendKind.Managed), $"managed engine: ONNX Runtime's native library cannot be loaded ({Describe(failure!)})");

        string why;
        if (providers.Contains(DirectMLProvider))
        {
            try { return (create(BackendKind.DirectML), "ONNX Runtime DirectML provider: DmlExecutionProvider is available and its session was created"); }
            catch (Exception e) when (e is not CheckpointFormatException) { why = $"DirectML is listed but its session failed ({Describe(e)})"; }
        }
        else why = $"DirectML is not available (providers: {string.Join(", ", providers)})";

        if (cpuChoice.Kind == BackendKind.Managed)
            return (create(BackendKind.Managed), $"managed engine: {why}; {cpuChoice.Why}");
        try { return (create(BackendKind.Cpu), $"ONNX Runtime CPU provider: {why}; {cpuChoice.Why}"); }
        catch (Exception e) when (IsNativeLoadFailure(e))
        {
            return (create(BackendKind.Managed), $"managed engine: {why}; the CPU provider cannot load ({Describe(e)})");
        }
    }

    private IReadOnlyCollection<string>? Providers(out Exception? failure)
    {
        failure = null;
        try { return availableProviders(); }
        catch (Exception e) when (IsNativeLoadFailure(e)) { failure = e; return null; }
    }

    /// <summary>The exceptions .NET raises when a native library or one of its entry points is missing.</summary>
    internal static bool IsNativeLoadFailure(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException
                || (e is TypeInitializationException t && t.TypeName?.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal) == true)) return true;
        return false;
    }

    private static string Describe(Exception e)
    {
        while (e is TypeInitializationException && e.InnerException is not null) e = e.InnerException;
        return $"{e.GetType().Name}: {e.Message}";
    }
}
