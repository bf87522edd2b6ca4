namespace EdgeShortcut.Runtime;

/// <summary>
/// How deep one generated token ran (the paper's depth map, one column): the exit it took and, when
/// <see cref="GenerationOptions.ReportDepth"/> is on, the share of the final block's attention (averaged
/// over heads, summed over positions) that went to each tapped layer's memory entries.
/// </summary>
/// <param name="ExitDepth">Blocks 1..ExitDepth ran (L-1 = full depth); 0 before the first token.</param>
/// <param name="TapAttention">Per tap j (ModelConfig.Taps[j]), the attention mass in [0, 1], summing to 1;
/// empty unless <see cref="GenerationOptions.ReportDepth"/> (and empty for the tokens of
/// <see cref="DepthPolicyKind.SelfSpeculative"/>, which come from a batched verification). A view of a buffer
/// the next token overwrites.</param>
public readonly record struct TokenDepth(int ExitDepth, ReadOnlyMemory<float> TapAttention);
