namespace EdgeShortcut.Runtime;

/// <summary>
/// What happens when the tokens of a generation no longer fit the model's context (n_ctx learned
/// positions). The model has absolute positions, so its caches cannot simply be shifted: the only
/// correct ways on are to stop or to start again from a shorter window.
/// </summary>
public enum ContextOverflowPolicy
{
    /// <summary>Keep the most recent half of the context (n_ctx / 2 tokens), clear the caches and
    /// prefill that window again at positions 0..; generation continues, conditioned only on the
    /// window. A prompt longer than n_ctx keeps its last n_ctx / 2 tokens. Costs one re-prefill every
    /// n_ctx / 2 tokens.</summary>
    SlidingWindow,
    /// <summary>Throw <see cref="ContextOverflowException"/> when the context is full: for an
    /// oversized prompt before any model call, during generation at the first token that does not fit.</summary>
    Error,
    /// <summary>Stop generating when the context is full (finish reason <see cref="FinishReason.ContextFull"/>);
    /// an oversized prompt still throws <see cref="ContextOverflowException"/>.</summary>
    Stop,
}

/// <summary>The tokens do not fit the model's context under <see cref="ContextOverflowPolicy.Error"/>
/// (or a prompt is longer than n_ctx under <see cref="ContextOverflowPolicy.Stop"/>).</summary>
public sealed class ContextOverflowException(int tokens, int contextLength)
    : InvalidOperationException($"{tokens} tokens do not fit the model's context of {contextLength} positions (choose ContextOverflowPolicy.SlidingWindow, or shorten the prompt / MaxNewTokens).")
{
    /// <summary>Tokens that were to be held.</summary>
    public int Tokens { get; } = tokens;
    /// <summary>The model's n_ctx.</summary>
    public int ContextLength { get; } = contextLength;
}
