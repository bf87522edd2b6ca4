namespace EdgeShortcut;

/// <summary>A computation produced NaN or infinity where a finite number is required: a training run
/// that diverged (its loss or weights), or logits of a model that overflowed. The message says where
/// and what to do; nothing non-finite was written to disk. (A non-finite weight found in a file is a
/// <see cref="CheckpointFormatException"/> instead: the file is bad, not the computation.)</summary>
public sealed class NonFiniteValueException(string message) : InvalidOperationException(message);
