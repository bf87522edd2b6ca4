namespace EdgeShortcut.Runtime;

/// <summary>
/// The throwaway generation behind <see cref="EdgeModel.WarmUpAsync"/>: a prompt long enough for the batched prefill
/// paths (token tiles, both threads), then <see cref="Tokens"/> sampled tokens with the default options, on a generator
/// of its own. Why: a fresh process compiles the engine's code on first use (the kernels in the background while the
/// model loads, <see cref="Managed.KernelPrecompiler"/>; the rest at its first call: 21-25 ms of the default model's first
/// token), and a short reply ends before tiered compilation optimizes the per-token code (docs/BENCHMARKS.md,
/// "Nineteenth session"); an app that warms up while it waits for its first prompt pays neither.
/// </summary>
internal static class ModelWarmUp
{
    /// <summary>Tokens sampled: past tiered compilation's 30 calls, so the per-token methods are recompiled optimized in
    /// the background once the warm-up is over.</summary>
    public const int Tokens = 40;

    /// <summary>Prompt tokens at most (fewer for a context under twice this): 16 or more take the two-thread prefill.</summary>
    public const int PromptTokens = 48;

    private const string PromptText = "ROMEO:\nBut soft, what light through yonder window breaks? It is the east.\n";

    /// <summary>Runs the warm-up on the calling thread; checks <paramref name="cancellationToken"/> between tokens.</summary>
    public static void Run(EdgeModel model, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var generator = model.CreateGenerator(new GenerationOptions { MaxNewTokens = Tokens, Seed = 0 });
        generator.AppendTokens(Prompt(model));
        while (!generator.IsDone)
        {
            cancellationToken.ThrowIfCancellationRequested();
            generator.NextToken();
        }
        if (model.Tokenizer.SupportsText) generator.TakeText();
    }

    /// <summary>The prompt: a line of text for a byte tokenizer, else ids 0, 1, 2, ...; at most half the context.</summary>
    private static int[] Prompt(EdgeModel model)
    {
        int length = Math.Clamp(model.Config.ContextLength / 2, 1, PromptTokens);
        int[] ids = model.Tokenizer.SupportsText ? model.Tokenizer.Encode(PromptText) : [.. Enumerable.Range(0, length)];
        for (int i = 0; i < ids.Length; i++) ids[i] %= model.Config.VocabSize;
        return ids[..Math.Min(length, ids.Length)];
    }
}
