using System.Diagnostics;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>Streams continuations to stdout; the backend and speed go to stderr at the end, so stdout
/// carries only the generated text. With <c>--show-depth</c> (<paramref name="colors"/> given) it drives
/// the step API itself and colours each token by the depth it exited at.</summary>
internal static class GenerateCommand
{
    public static async Task<int> RunAsync(EdgeModel model, GenerationOptions options, string? prompt, DepthColors? colors, CancellationToken ct)
    {
        if (colors is not null) Console.Error.WriteLine(colors.Legend);
        if (prompt is not null)
        {
            if (prompt.Length == 0) throw new CliException("the prompt is empty (omit it for interactive mode)");
            await ContinueAsync(model, prompt, options, colors, echoPrompt: true, ct);
            return 0;
        }

        Console.Error.WriteLine($"Interactive mode on {model.Backend}: one prompt per line, end with Ctrl+D (EOF).");
        // While the user types, a throwaway generation compiles the engine's code, so the first reply starts at once
        // (EdgeModel.WarmUpAsync); it is awaited before the first reply and before the model can be disposed.
        Task? warmUp = model.WarmUpAsync(ct);
        while (true)
        {
            Console.Error.Write("> ");
            string? line = Console.In.ReadLine();
            if (warmUp is not null) { await warmUp; warmUp = null; }
            if (line is null) return 0;
            if (line.Length == 0) continue;
            await ContinueAsync(model, line.Replace("\\n", "\n"), options, colors, echoPrompt: false, ct);
        }
    }

    /// <summary>What the summary line on stderr reports.</summary>
    private sealed record Summary(int Tokens, double TokensPerS, double FirstTokenMs, int Slides, string DepthNote = "");

    private static async Task ContinueAsync(EdgeModel model, string prompt, GenerationOptions options, DepthColors? colors, bool echoPrompt, CancellationToken ct)
    {
        if (echoPrompt) Console.Write(prompt);
        Summary summary;
        if (colors is null)
        {
            var stats = new GenerationStats();
            await foreach (var piece in model.GenerateAsync(prompt, options, stats, ct))
                Console.Write(piece);
            summary = new(stats.GeneratedTokens, stats.DecodeTokensPerSecond, stats.TimeToFirstToken.TotalMilliseconds, stats.ContextSlides);
        }
        else summary = await Task.Run(() => Stepwise(model, prompt, options, colors, ct), ct);
        Console.WriteLine();
        Console.Out.Flush();
        Console.Error.WriteLine($"-- backend {model.Backend.ToString().ToLowerInvariant()} ({model.BackendReason}), {model.Activations.ToString().ToLowerInvariant()} activations, {model.Threads} threads" +
            (options.Depth.Kind == DepthPolicyKind.Full ? "" : $", depth {options.Depth}") + "; " +
            $"{summary.Tokens} tokens, {summary.TokensPerS:F1} tokens/s, time to first token {summary.FirstTokenMs:F1} ms" +
            (summary.Slides > 0 ? $", context window slid {summary.Slides}x" : "") + summary.DepthNote);
    }

    /// <summary>The step loop of <c>--show-depth</c>: each token's text in its exit depth's colour, and the
    /// numbers GenerateAsync's stats would give (decode speed counts the tokens after the first).</summary>
    private static Summary Stepwise(EdgeModel model, string prompt, GenerationOptions options, DepthColors colors, CancellationToken ct)
    {
        using var g = model.CreateGenerator(options);
        g.AppendText(prompt);
        var counts = new SortedDictionary<int, int>();
        long start = Stopwatch.GetTimestamp(), firstToken = 0;
        while (!g.IsDone)
        {
            ct.ThrowIfCancellationRequested();
            g.NextToken();
            if (firstToken == 0) firstToken = Stopwatch.GetTimestamp();
            int depth = colors.Normalize(g.LastDepth.ExitDepth);
            counts[depth] = counts.GetValueOrDefault(depth) + 1;
            Console.Write(colors.Paint(g.TakeText(), depth));
        }
        double decodeSeconds = Stopwatch.GetElapsedTime(firstToken).TotalSeconds;
        double mean = counts.Sum(kv => (double)kv.Key * kv.Value) / Math.Max(1, counts.Values.Sum());
        return new(g.GeneratedTokens, decodeSeconds > 0 ? (g.GeneratedTokens - 1) / decodeSeconds : 0,
            Stopwatch.GetElapsedTime(start, firstToken).TotalMilliseconds, g.ContextSlides,
            $", mean exit depth {mean:F2} (depth: tokens {string.Join(", ", counts.Select(kv => $"{kv.Key}: {kv.Value}"))})");
    }
}
