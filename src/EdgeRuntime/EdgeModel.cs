using EdgeShortcut.Core;

namespace EdgeShortcut.Runtime;

/// <summary>
/// A shortcut GPT loaded once for generation (compare ONNX Runtime GenAI's <c>Model</c> or
/// LLamaSharp's <c>LLamaWeights</c>). Thread-safe to share: every generation gets its own caches, so
/// several threads may generate at once. Dispose it after the last generation has finished.
/// </summary>
/// <example>
/// <code>
/// using var model = EdgeModel.Load("models/default.onnx");
/// await foreach (var piece in model.GenerateAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 200, Seed = 1 }))
///     Console.Write(piece);
/// </code>
/// </example>
public sealed class EdgeModel : IDisposable
{
    private readonly IInferenceBackend _backend;
    private volatile bool _disposed;

    internal EdgeModel(ModelFileInfo file, IInferenceBackend backend, string backendReason)
    {
        if (!backend.Config.Equals(file.Config))
            throw new CheckpointFormatException(file.Path, "the backend read a different model config than the file's metadata");
        File = file;
        _backend = backend;
        BackendReason = backendReason;
        Tokenizer = new EdgeTokenizer(file.Tokenizer);
    }

    /// <summary>Opens an EdgeShortcut ONNX file (made by src/Quantize) on the backend the options ask
    /// for. Throws <see cref="CheckpointFormatException"/> (naming the file) for a missing, corrupt or
    /// foreign file, <see cref="NotSupportedException"/> for an explicitly requested backend that is
    /// not available here, <see cref="ArgumentException"/> for bad options.</summary>
    public static EdgeModel Load(string path, EdgeModelOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options = (options ?? new EdgeModelOptions()).Validate();
        // The managed engine's kernels compile on another core while this one reads the file (Auto picks that engine
        // wherever DirectML cannot run and the CPU has its kernels, unless the file is fp32 or over 90M parameters).
        if (options.Backend == BackendKind.Managed || (options.Backend == BackendKind.Auto && !OperatingSystem.IsWindows() && CpuFeatures.Current.Avx2Fma))
            Managed.KernelPrecompiler.StartOnce();
        var file = ModelFile.Read(path);
        var (backend, reason) = BackendSelector.ForFile(file, options).Select(options.Backend);
        try { return new EdgeModel(file, backend, reason) { Activations = options.Activations, KeyValueCache = options.KeyValueCache }; }
        catch { backend.Dispose(); throw; }
    }

    /// <summary>The model file and its metadata.</summary>
    public ModelFileInfo File { get; }

    /// <summary>The model's shape.</summary>
    public ModelConfig Config => File.Config;

    /// <summary>The tokenizer named by the model's metadata.</summary>
    public EdgeTokenizer Tokenizer { get; }

    /// <summary>The backend in use (never <see cref="BackendKind.Auto"/>).</summary>
    public BackendKind Backend => _backend.Kind;

    /// <summary>CPU threads one model call uses (<see cref="EdgeModelOptions.Threads"/>): equal on the managed engine and
    /// the ONNX Runtime CPU provider by default.</summary>
    public int Threads => _backend.Threads;

    /// <summary>Why this backend was chosen, in one line (e.g. why DirectML was not used).</summary>
    public string BackendReason { get; }

    /// <summary>How the int8 Linear layers multiply (from <see cref="EdgeModelOptions.Activations"/>).</summary>
    public ActivationPrecision Activations { get; private init; }

    /// <summary>How the key/value caches are stored (from <see cref="EdgeModelOptions.KeyValueCache"/>; bfloat16 and int8
    /// only on the managed engine).</summary>
    public KeyValueCachePrecision KeyValueCache { get; private init; }

    /// <summary>A step-API generator with its own caches; dispose it when done. Throws
    /// <see cref="ArgumentException"/> (ParamName = the option) for bad options.</summary>
    public Generator CreateGenerator(GenerationOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return NewGenerator((options ?? new GenerationOptions()).Validate(Config));
    }

    /// <summary>A teacher-forced scorer (held-out NLL, exit depths, speed) running <paramref name="depth"/>
    /// (default <see cref="DepthPolicy.Full"/>). Managed engine only: other backends throw
    /// <see cref="NotSupportedException"/>; a policy the model cannot run throws <see cref="ArgumentException"/>.</summary>
    public TokenScorer CreateScorer(DepthPolicy? depth = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        depth = (depth ?? DepthPolicy.Full).Validate(Config);
        if (depth.Kind == DepthPolicyKind.SelfSpeculative)
            throw new NotSupportedException($"Depth policy '{depth}' is not scored: its logits are the full model's by construction (score DepthPolicy.Full; time it by generating).");
        if (_backend is not Managed.ManagedBackend managed)
            throw new NotSupportedException($"Scoring with a depth policy runs on the managed engine; this model runs on {_backend.Kind} (load it with Backend = BackendKind.Managed).");
        return new TokenScorer(managed.CreateManagedSequence(), Config, WithRecommendedThreshold(depth));
    }

    /// <summary><paramref name="depth"/> with an adaptive policy's missing threshold filled in: the file's recommended
    /// one (<see cref="ModelFileInfo.AdaptiveThreshold"/>), else <see cref="DepthPolicy.DefaultThreshold"/>.</summary>
    internal DepthPolicy WithRecommendedThreshold(DepthPolicy depth) =>
        depth is { Kind: DepthPolicyKind.Adaptive, Threshold: null } ? DepthPolicy.Adaptive(File.AdaptiveThreshold ?? DepthPolicy.DefaultThreshold) : depth;

    /// <summary>A generator for options already validated by a public entry point.</summary>
    internal Generator NewGenerator(GenerationOptions options)
    {
        if (options.Depth.Kind != DepthPolicyKind.Full && _backend.Kind != BackendKind.Managed)
            throw new NotSupportedException($"Depth policy '{options.Depth}' runs on the managed engine only; this model runs on {_backend.Kind} " +
                "(the ONNX graph has no exits: load it with Backend = BackendKind.Managed, or use DepthPolicy.Full).");
        options = options with { Depth = WithRecommendedThreshold(options.Depth) };
        var sequence = _backend.CreateSequence();
        try { return new Generator(sequence, Config, Tokenizer, options); }
        catch { sequence.Dispose(); throw; }
    }

    /// <summary>Streams the continuation of <paramref name="prompt"/> as text pieces that never split
    /// a UTF-8 character and never contain (part of) a stop sequence. Bad options throw
    /// <see cref="ArgumentException"/> (ParamName = the option) here, before the stream starts.</summary>
    public IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        GenerateAsync(prompt, options, null, cancellationToken);

    /// <summary>As <see cref="GenerateAsync(string, GenerationOptions?, CancellationToken)"/>, filling
    /// <paramref name="stats"/> (token counts, time to first token, finish reason) as it runs.</summary>
    public IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationOptions? options, GenerationStats? stats, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(prompt);
        if (prompt.Length == 0) throw new ArgumentException("The prompt is empty: the model needs at least one token to condition on.", nameof(prompt));
        if (!Tokenizer.SupportsText) throw new NotSupportedException($"This model's tokenizer is '{Tokenizer.Spec.Kind}' (no text form): use CreateGenerator and token ids.");
        options = (options ?? new GenerationOptions()).Validate(Config);
        int[] ids = Tokenizer.Encode(prompt);
        if (options.ContextOverflow != ContextOverflowPolicy.SlidingWindow && ids.Length > Config.ContextLength)
            throw new ContextOverflowException(ids.Length, Config.ContextLength);
        return TextStream.RunAsync(this, ids, options, stats ?? new GenerationStats(), cancellationToken);
    }

    /// <summary>
    /// Runs a short throwaway generation on the thread pool (a prompt of up to 48 tokens, then 40 sampled tokens, on
    /// caches of its own), so that the first real generation does not wait for .NET to compile the engine's code: in a
    /// fresh process the default model's first token came 21-25 ms after the request without it (the kernels having been
    /// compiled in the background while the model loaded) and 2-3 ms after it, and the reply decoded ~10% faster
    /// (docs/BENCHMARKS.md, "Nineteenth session"). Start it right after <see cref="Load"/>, while the app waits for its
    /// first prompt; it takes 50-100 ms on the default model, more on a larger one. It changes nothing a later generation
    /// computes. Generating while it runs is allowed (the two share the CPU); await it, or cancel it and await it, before
    /// <see cref="Dispose"/>.
    /// The task fails as a generation would (e.g. <see cref="NonFiniteValueException"/> for a numerically broken model),
    /// and is cancelled between tokens by <paramref name="cancellationToken"/>.
    /// </summary>
    public Task WarmUpAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Task.Run(() => ModelWarmUp.Run(this, cancellationToken), cancellationToken);
    }

    /// <summary>Frees the backend (its session or weights).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _backend.Dispose();
    }
}
