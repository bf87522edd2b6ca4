namespace EdgeShortcut.Runtime;

/// <summary>
/// Filled in while a generation runs (pass one to <see cref="EdgeModel.GenerateAsync(string, GenerationOptions?, GenerationStats?, CancellationToken)"/>);
/// read it after the stream ends. Not thread-safe: one generation writes it.
/// </summary>
public sealed class GenerationStats
{
    /// <summary>Tokens of the prompt as given (a sliding window may later keep only its end).</summary>
    public int PromptTokens { get; internal set; }
    /// <summary>Tokens sampled, including those of a stop sequence.</summary>
    public int GeneratedTokens { get; internal set; }
    /// <summary>From the start of the call to the first sampled token (prefill + one sample).</summary>
    public TimeSpan TimeToFirstToken { get; internal set; }
    /// <summary>From the start of the call to the end of the stream.</summary>
    public TimeSpan Elapsed { get; internal set; }
    /// <summary>How many times the sliding window re-prefilled the context.</summary>
    public int ContextSlides { get; internal set; }
    /// <summary>Why the generation ended.</summary>
    public FinishReason FinishReason { get; internal set; }

    /// <summary>Generated tokens per second after the first one (decode speed); 0 until two tokens exist.</summary>
    public double DecodeTokensPerSecond =>
        GeneratedTokens > 1 && Elapsed > TimeToFirstToken ? (GeneratedTokens - 1) / (Elapsed - TimeToFirstToken).TotalSeconds : 0;
}
