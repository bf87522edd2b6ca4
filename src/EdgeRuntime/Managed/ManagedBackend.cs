using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// The pure C# engine: no native library. Loads the same ONNX file as the ONNX Runtime backends
/// but reads only its initializers and metadata (<see cref="ManagedModelLoader"/>), then runs the
/// forward pass with its own SIMD kernels. The weights are immutable and shared, so the backend is
/// thread-safe; each sequence owns its caches and scratch.
/// </summary>
internal sealed class ManagedBackend : IInferenceBackend
{
    private readonly ManagedWeights _weights;
    private readonly bool _useHelperThread;

    private ManagedBackend(ManagedWeights weights, int threads, KeyValueCachePrecision keyValueCache)
    {
        if (!Enum.IsDefined(keyValueCache)) throw new ArgumentException($"KeyValueCache {(int)keyValueCache} is not a KeyValueCachePrecision.", nameof(keyValueCache));
        _weights = weights;
        KeyValueCache = keyValueCache;
        Threads = ThreadBudget.ForManaged(threads);
        // A helper thread pays off where a matrix splits: for a single token (decode), or for a prefill chunk, whose stages
        // each thread runs over half of the tokens (PrefillBlock). A d128 model's matrices split only in a chunk; its
        // 256-token prefill went from 4.8-5.7 ms on one thread to 3.6-4.5 with the helper (ManagedBench prefill --dim 128
        // --per-round, 3 alternations). Before the prefill kept token rows on one thread it ran slower with a helper.
        // (A matrix that splits for one token splits for a chunk too.)
        _useHelperThread = Threads > 1 && weights.Linears().Any(l => l.SplitsFor(RunState.MaxChunkTokens));
    }

    /// <summary>Loads the weights of an ONNX model file written by the quantizer (int8 or fp32) whose metadata
    /// the runtime has already read (<see cref="ModelFile.Read"/>); <paramref name="activations"/> chooses the
    /// int8 files' kernels (<see cref="ActivationPrecision"/>); <paramref name="threads"/> is
    /// <see cref="EdgeModelOptions.Threads"/> (0 = the default, <see cref="ThreadBudget.ForManaged"/>); <paramref name="keyValueCache"/>
    /// is how sequences store their caches (<see cref="KeyValueCachePrecision"/>).</summary>
    /// <exception cref="CheckpointFormatException">The file is corrupt, or lacks a tensor (named in the message).</exception>
    public static ManagedBackend Load(ModelFileInfo file, ActivationPrecision activations = ActivationPrecision.Float32, int threads = 0,
        KeyValueCachePrecision keyValueCache = KeyValueCachePrecision.Float32)
    {
        KernelPrecompiler.StartOnce();   // compiles the kernels on another core while this one loads
        // Lean loading: parse and pack straight from a memory map of the file. The packed layout the kernels
        // read is the only copy of the weights that survives; the map is released before returning.
        using var mapped = MappedFileMemory.Open(file.Path);
        var model = OnnxReader.Read(mapped.Memory, file.Path);
        ModelGraphCheck.Check(model, file, requireGraph: false);   // the same checks as the ONNX Runtime backend: agree or refuse
        return new(ManagedModelLoader.Load(model, file, activations), threads, keyValueCache);
    }

    /// <summary>Builds the engine from an in-memory model (tests, the bench); <paramref name="source"/> names it in errors.</summary>
    public static ManagedBackend FromOnnx(OnnxModel model, string source, ActivationPrecision activations = ActivationPrecision.Float32, int threads = 0,
        KeyValueCachePrecision keyValueCache = KeyValueCachePrecision.Float32)
    {
        KernelPrecompiler.StartOnce();
        var file = ModelFile.FromMetadata(model.Metadata(), source);
        ModelGraphCheck.Check(model, file, requireGraph: false);
        return new(ManagedModelLoader.Load(model, file, activations), threads, keyValueCache);
    }

    /// <inheritdoc />
    public BackendKind Kind => BackendKind.Managed;

    /// <inheritdoc />
    public ModelConfig Config => _weights.Config;

    /// <summary>The engine's thread budget per call: 2 (the caller and one helper) or 1 (<see cref="ThreadBudget.ForManaged"/>).
    /// The helper takes part only in matrices that split (<see cref="ManagedLinear.SplitsFor"/>), and in a prefill's per-token passes and attention.</summary>
    public int Threads { get; }

    /// <summary>True when the Linear layers run on the int8 kernels (an int8 file with int8 activations).</summary>
    public bool IsInt8 => _weights.IsInt8;

    /// <summary>Distinct Linear weight bytes one decode step reads (for the roofline).</summary>
    public long WeightBytesPerToken => _weights.WeightBytesPerToken;

    /// <summary>How sequences store their key/value caches.</summary>
    public KeyValueCachePrecision KeyValueCache { get; }

    /// <summary>Whether sequences split large matrices across two threads.</summary>
    public bool UsesHelperThread => _useHelperThread;

    internal bool IsDisposed { get; private set; }

    /// <inheritdoc />
    public IInferenceSequence CreateSequence() => CreateManagedSequence();

    /// <summary>As <see cref="CreateSequence"/>, typed.</summary>
    public ManagedSequence CreateManagedSequence()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return new ManagedSequence(this, _weights, new RunState(_weights.Config, _useHelperThread, KeyValueCache) { WeightsStream = _weights.StreamsFromMemory });
    }

    /// <summary>Marks the backend disposed: new sequences cannot be created and existing ones stop.</summary>
    public void Dispose() => IsDisposed = true;
}
