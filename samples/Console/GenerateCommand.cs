using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>Streams continuations to stdout; the backend and speed go to stderr at the end, so stdout
/// carries only the generated text.</summary>
internal static class GenerateCommand
{
    public static async Task<int> RunAsync(EdgeModel model, GenerationOptions options, string? prompt, CancellationToken ct)
    {
        if (prompt is not null)
        {
            if (prompt.Length == 0) throw new CliException("the prompt is empty (omit it for interactive mode)");
            await ContinueAsync(model, prompt, options, echoPrompt: true, ct);
            return 0;
        }

        Console.Error.WriteLine($"Interactive mode on {model.Backend}: one prompt per line, end with Ctrl+D (EOF).");
        while (true)
        {
            Console.Error.Write("> ");
            string? line = Console.In.ReadLine();
            if (line is null) return 0;
            if (line.Length == 0) continue;
            await ContinueAsync(model, line.Replace("\\n", "\n"), options, echoPrompt: false, ct);
        }
    }

    private static async Task ContinueAsync(EdgeModel model, string prompt, GenerationOptions options, bool echoPrompt, CancellationToken ct)
    {
        var stats = new GenerationStats();
        if (echoPrompt) Console.Write(prompt);
        await foreach (var piece in model.GenerateAsync(prompt, options, stats, ct))
            Console.Write(piece);
        Console.WriteLine();
        Console.Out.Flush();
        Console.Error.WriteLine($"-- backend {model.Backend.ToString().ToLowerInvariant()} ({model.BackendReason}), {model.Activations.ToString().ToLowerInvariant()} activations; " +
            $"{stats.GeneratedTokens} tokens, {stats.DecodeTokensPerSecond:F1} tokens/s, time to first token {stats.TimeToFirstToken.TotalMilliseconds:F1} ms" +
            (stats.ContextSlides > 0 ? $", context window slid {stats.ContextSlides}x" : ""));
    }
}
