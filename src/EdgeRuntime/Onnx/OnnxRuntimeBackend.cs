using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Core;
using Microsoft.ML.OnnxRuntime;

namespace EdgeShortcut.Runtime.Onnx;

/// <summary>
/// An EdgeShortcut ONNX file in one ONNX Runtime session, on the CPU or DirectML execution provider.
/// The session is shared by every sequence: the CPU provider runs concurrent <c>Run</c> calls on one
/// session safely; DirectML does not, so its runs go through one lock.
/// Dispose is safe while sequences run on other threads: every run holds a read lock, Dispose asks the
/// running ones to terminate, takes the write lock (so no run is inside native code), then frees every
/// sequence's native objects and the session; later calls throw <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed class OnnxRuntimeBackend : IInferenceBackend
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _sessionOptions;
    private readonly ReaderWriterLockSlim _runGate = new(LockRecursionPolicy.NoRecursion);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<OnnxRuntimeSequence, byte> _sequences = new();
    private volatile bool _disposing;
    private bool _disposed;   // written under the write lock, read under a read lock

    /// <summary>Opens <paramref name="file"/> on <paramref name="kind"/> (Cpu or DirectML) after checking the
    /// file against its metadata (<see cref="ModelGraphCheck"/>: initializers, graph, LayerNorm epsilon), and
    /// checks the session's inputs and outputs against FORMAT.md section 5.</summary>
    public OnnxRuntimeBackend(ModelFileInfo file, BackendKind kind, EdgeModelOptions options)
    {
        if (kind is not (BackendKind.Cpu or BackendKind.DirectML)) throw new ArgumentException($"ONNX Runtime runs Cpu or DirectML, not {kind}.", nameof(kind));
        Kind = kind;
        Config = file.Config;
        Path = file.Path;
        Caches = OnnxNames.Caches(file.Config);
        var model = OnnxReader.ReadFile(file.Path);
        ModelGraphCheck.Check(model, file, requireGraph: true);
        Threads = ThreadBudget.ForOnnxRuntime(options.Threads);
        _sessionOptions = CreateSessionOptions(kind, options);
        try
        {
            _session = new InferenceSession(file.Path, _sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            _sessionOptions.Dispose();
            throw new CheckpointFormatException(file.Path, $"ONNX Runtime ({kind}) cannot load the model: {e.Message}", e);
        }
        RunLock = kind == BackendKind.DirectML ? new object() : null;
        try
        {
            CheckGraphSignature(file.Path);
            GraphAgreementProbe.Verify(this, model, file, options.Activations);
        }
        catch { Dispose(); throw; }
    }

    /// <inheritdoc />
    public BackendKind Kind { get; }

    /// <inheritdoc />
    public ModelConfig Config { get; }

    /// <inheritdoc />
    public int Threads { get; }

    /// <summary>The cache tensors, in binding order.</summary>
    internal OnnxCache[] Caches { get; }

    /// <summary>Serializes <c>Run</c> calls when the provider needs it (DirectML); null otherwise.</summary>
    internal object? RunLock { get; }

    internal InferenceSession Session => _session;

    /// <summary>The model file (for messages).</summary>
    internal string Path { get; }

    /// <summary>True once <see cref="Dispose"/> has begun: a run that fails now failed because of it.</summary>
    internal bool IsDisposing => _disposing;

    /// <inheritdoc />
    public IInferenceSequence CreateSequence()
    {
        EnterRun();
        try
        {
            var sequence = new OnnxRuntimeSequence(this);
            _sequences.TryAdd(sequence, 0);
            return sequence;
        }
        finally { ExitRun(); }
    }

    /// <summary>Enters a section that uses the session (a run, or creating or freeing a sequence's native
    /// objects); throws <see cref="ObjectDisposedException"/> once the backend is disposed.</summary>
    internal void EnterRun()
    {
        _runGate.EnterReadLock();
        if (!_disposed) return;
        _runGate.ExitReadLock();
        throw new ObjectDisposedException(nameof(EdgeModel), "The model was disposed.");
    }

    /// <summary>Leaves the section entered by <see cref="EnterRun"/>.</summary>
    internal void ExitRun() => _runGate.ExitReadLock();

    /// <summary>A sequence freed its native objects itself.</summary>
    internal void Forget(OnnxRuntimeSequence sequence) => _sequences.TryRemove(sequence, out _);

    /// <summary>ONNX Runtime's execution providers in this process (loads the native library: throws
    /// DllNotFoundException / TypeInitializationException when it is missing).</summary>
    public static IReadOnlyCollection<string> AvailableProviders() => OrtEnv.Instance().GetAvailableProviders();

    private static SessionOptions CreateSessionOptions(BackendKind kind, EdgeModelOptions options)
    {
        // Memory patterns are planned per input shape and the cache length P grows every step, so
        // most steps would plan a new one (DirectML requires them off anyway).
        // ONNX Runtime's own log lines are off: every failure reaches the caller as an exception with ORT's message.
        var so = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, EnableMemoryPattern = false,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };
        // Always explicit (ThreadBudget): ONNX Runtime's own default (0) would size the pool by physical cores
        // and pin its workers, and would not match the managed engine's count on larger machines.
        so.IntraOpNumThreads = ThreadBudget.ForOnnxRuntime(options.Threads);
        // Without QDQ fusions ORT constant-folds each DequantizeLinear into a float weight and runs a float
        // MatMul (Float32 activations, like the managed engine's). With them it fuses DequantizeLinear +
        // MatMul into MatMulNBits (bits 8, block 32, accuracy_level 4), which quantizes activations per block.
        if (options.Activations == ActivationPrecision.Float32) so.AddSessionConfigEntry("session.disable_quant_qdq", "1");
        if (kind == BackendKind.DirectML)
        {
            // DirectML's documented requirements: no memory pattern (above), sequential execution.
            so.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
            try { so.AppendExecutionProvider_DML(options.DirectMLDeviceId); }
            catch { so.Dispose(); throw; }
        }
        return so;
    }

    private void CheckGraphSignature(string path)
    {
        var inputs = _session.InputMetadata;
        var outputs = _session.OutputMetadata;
        void Require(IReadOnlyDictionary<string, NodeMetadata> set, string name, string what)
        {
            if (!set.ContainsKey(name))
                throw new CheckpointFormatException(path, $"the graph has no {what} '{name}' (FORMAT.md section 5); it has [{string.Join(", ", set.Keys)}]");
        }
        Require(inputs, OnnxNames.InputIds, "input");
        Require(outputs, OnnxNames.Logits, "output");
        foreach (var c in Caches)
        {
            Require(inputs, c.PastName, "input");
            Require(outputs, c.PresentName, "output");
        }
        if (inputs.Count != Caches.Length + 1 || outputs.Count != Caches.Length + 1)
            throw new CheckpointFormatException(path, $"the graph has {inputs.Count} inputs and {outputs.Count} outputs; the config implies {Caches.Length + 1} of each");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_session is null) { _sessionOptions.Dispose(); return; }   // the constructor failed before the session existed
        lock (_runGate)
        {
            if (_disposing) return;
            _disposing = true;
        }
        foreach (var sequence in _sequences.Keys) sequence.Terminate();   // running Runs stop at their next check
        _runGate.EnterWriteLock();
        try
        {
            _disposed = true;
            foreach (var sequence in _sequences.Keys) sequence.ReleaseNative();
            _sequences.Clear();
            _session.Dispose();
            _sessionOptions.Dispose();
        }
        finally { _runGate.ExitWriteLock(); }
    }
}
