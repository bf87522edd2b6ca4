using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace EdgeShortcut.Runtime;

/// <summary>The streaming loop behind <see cref="EdgeModel.GenerateAsync(string, GenerationOptions?, GenerationStats?, CancellationToken)"/>:
/// one model step per token on the thread pool (a UI caller's thread is never blocked), bytes through
/// a UTF-8 stream decoder, text through the stop-sequence matcher.</summary>
internal static class TextStream
{
    public static async IAsyncEnumerable<string> RunAsync(EdgeModel model, int[] prompt, GenerationOptions options,
        GenerationStats stats, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        stats.PromptTokens = prompt.Length;
        stats.GeneratedTokens = 0;
        stats.FinishReason = FinishReason.None;
        using var generator = model.CreateGenerator(options);
        generator.AppendTokens(prompt);
        var decoder = model.Tokenizer.CreateStreamDecoder();
        var stops = new StopSequenceMatcher(options.StopSequences);
        try
        {
            while (true)
            {
                if (stats.GeneratedTokens == options.MaxNewTokens) { stats.FinishReason = FinishReason.Length; break; }
                if (options.ContextOverflow == ContextOverflowPolicy.Stop && generator.IsContextFull) { stats.FinishReason = FinishReason.ContextFull; break; }
                if (cancellationToken.IsCancellationRequested) stats.FinishReason = FinishReason.Cancelled;
                cancellationToken.ThrowIfCancellationRequested();

                int token = await Task.Run(generator.NextToken, cancellationToken).ConfigureAwait(false);
                if (stats.GeneratedTokens++ == 0) stats.TimeToFirstToken = clock.Elapsed;
                stats.ContextSlides = generator.ContextSlides;
                string text = stops.Push(decoder.Push(token));
                if (text.Length > 0) yield return text;
                if (stops.Stopped) { stats.FinishReason = FinishReason.StopSequence; break; }
            }
            if (stats.FinishReason != FinishReason.StopSequence)
            {
                string rest = stops.Push(decoder.Flush());
                if (stops.Stopped) stats.FinishReason = FinishReason.StopSequence;
                else rest += stops.Flush();
                if (rest.Length > 0) yield return rest;
            }
        }
        finally
        {
            if (stats.FinishReason == FinishReason.None) stats.FinishReason = FinishReason.Cancelled;
            stats.Elapsed = clock.Elapsed;
        }
    }
}
