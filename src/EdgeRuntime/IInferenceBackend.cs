using EdgeShortcut.Core;

namespace EdgeShortcut.Runtime;

/// <summary>
/// A model loaded on one backend (ONNX Runtime session or the managed engine). Two implementations
/// exist: <c>OnnxRuntimeBackend</c> and <c>ManagedBackend</c>. Thread-safe: many sequences may run
/// at once, each on its own thread.
/// </summary>
internal interface IInferenceBackend : IDisposable
{
    /// <summary>The concrete backend (never <see cref="BackendKind.Auto"/>).</summary>
    BackendKind Kind { get; }

    /// <summary>The model config read from the ONNX metadata.</summary>
    ModelConfig Config { get; }

    /// <summary>CPU threads one model call may use (<see cref="ThreadBudget"/>); for DirectML, the intra-op threads
    /// of its session's CPU-side nodes.</summary>
    int Threads { get; }

    /// <summary>Creates an empty sequence with its own caches (allocated once, up to n_ctx).</summary>
    IInferenceSequence CreateSequence();
}

/// <summary>
/// One generation's state: the key/value caches of the ordinary blocks and the shortcut cache.
/// Not thread-safe: one sequence is driven by one thread at a time.
/// </summary>
internal interface IInferenceSequence : IDisposable
{
    /// <summary>Number of positions held in the caches.</summary>
    int Length { get; }

    /// <summary>
    /// Appends <paramref name="tokens"/> (at least one; <c>Length + tokens.Length &lt;= n_ctx</c>), runs
    /// them through the model with the caches, and returns the logits <c>[V]</c> of the last appended
    /// token. The span is valid until the next call. Prefill passes the whole prompt; decode passes one token.
    /// </summary>
    ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens);

    /// <summary>Empties the caches (Length becomes 0) without freeing them.</summary>
    void Reset();
}
