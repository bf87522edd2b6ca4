namespace EdgeShortcut.Runtime;

/// <summary>
/// How the managed engine stores the key/value caches (the ordinary blocks' and the shortcut block's memory).
/// Set with <see cref="EdgeModelOptions.KeyValueCache"/>.
/// </summary>
public enum KeyValueCachePrecision
{
    /// <summary>The default: float32, as the ONNX graph's cache inputs and outputs, so every backend computes the
    /// same function.</summary>
    Float32,

    /// <summary>
    /// bfloat16 (the top 16 bits of a float32, rounded to nearest even): half the cache bytes, which is what a decode
    /// step reads beyond the weights, so late tokens of a long context slow down less. Each cached value keeps 8
    /// significant bits (relative rounding error at most 2^-8); attention itself still multiplies in float32. Managed engine
    /// only: the ONNX Runtime backends keep the graph's float32 caches, and <see cref="BackendKind.Auto"/> picks the
    /// managed engine when this is set.
    /// </summary>
    BFloat16,

    /// <summary>
    /// int8 with one float32 scale per head and slot (symmetric, <c>scale = max |x| / 127</c>, rounded to nearest even): a
    /// quarter of float32's cache bytes plus 8 bytes per head and slot, so a long context's late tokens read the least.
    /// Each cached value is within half a step (<c>max |x| / 254</c>) of the float32 one: a larger change than bfloat16's,
    /// measured on the trained default model in docs/BENCHMARKS.md (held-out NLL unchanged to 1e-4). Attention multiplies
    /// in exact integer arithmetic: the query and the attention weights are rounded to int16 (at most 1/65534 of their
    /// largest element), and the scales are applied to the scores and the output; a prefill still equals token-by-token
    /// decode bit for bit. Managed engine only, as <see cref="BFloat16"/>.
    /// </summary>
    Int8,
}
