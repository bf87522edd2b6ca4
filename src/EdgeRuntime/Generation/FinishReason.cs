namespace EdgeShortcut.Runtime;

/// <summary>Why a generation ended.</summary>
public enum FinishReason
{
    /// <summary>Still running (or never started).</summary>
    None,
    /// <summary><see cref="GenerationOptions.MaxNewTokens"/> tokens were generated.</summary>
    Length,
    /// <summary>A stop sequence was produced (it is not part of the output).</summary>
    StopSequence,
    /// <summary>The context was full under <see cref="ContextOverflowPolicy.Stop"/>.</summary>
    ContextFull,
    /// <summary>The caller stopped it: its cancellation token fired, or it stopped enumerating early.</summary>
    Cancelled,
}
