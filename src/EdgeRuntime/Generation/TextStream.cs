using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace EdgeShortcut.Runtime;

/// <summary>The streaming loop behind <see cref="EdgeModel.GenerateAsync(string, GenerationOptions?, GenerationStats?, CancellationToken)"/>:
/// the step API's loop (<see cref="Generator.NextToken"/> until <see cref="Generator.IsDone"/>), one
/// model step per token on the thread pool (a UI caller's thread is never blocked), yielding
/// <see cref="Generator.TakeText"/> after each step.</summary>
internal static class TextStream
{
    /// <summary><paramref name="options"/> were validated by the caller (the public entry).</summary>
    public static async IAsyncEnumerable<string> RunAsync(EdgeModel model, int[] prompt, GenerationOptions options,
        GenerationStats stats, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        stats.PromptTokens = prompt.Length;
        stats.GeneratedTokens = 0;
        stats.FinishReason = FinishReason.None;
        using var generator = model.NewGenerator(options);
        generator.AppendTokens(prompt);
        try
        {
            while (!generator.IsDone)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await Task.Run(generator.NextToken, cancellationToken).ConfigureAwait(false);
                if ((stats.GeneratedTokens = generator.GeneratedTokens) == 1) stats.TimeToFirstToken = clock.Elapsed;
                stats.ContextSlides = generator.ContextSlides;
                string text = generator.TakeText();
                if (text.Length > 0) yield return text;
            }
            stats.FinishReason = generator.FinishReason;
        }
        finally
        {
            // Cancelled, stopped enumerating early, or the model threw.
            if (stats.FinishReason == FinishReason.None) stats.FinishReason = FinishReason.Cancelled;
            stats.Elapsed = clock.Elapsed;
        }
    }
}
