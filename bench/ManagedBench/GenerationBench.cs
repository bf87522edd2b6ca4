using System.Diagnostics;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// Where a generated token's time goes beyond the model's forward pass: the same model and prompt through the step API
/// with greedy and with sampled tokens, through the streaming API (one thread-pool hop per token), and the sampler
/// alone on fixed logits. Each contender produces <c>tokens</c> tokens after a warm-up run, rounds interleaved.
/// </summary>
internal static class GenerationBench
{
    public static void Run(string modelPath, int tokens, int rounds)
    {
        using var model = EdgeModel.Load(modelPath, new EdgeModelOptions { Backend = BackendKind.Managed });
        var sampled = new GenerationOptions { MaxNewTokens = tokens, Temperature = 0.8f, TopK = 40, TopP = 0.95f, RepetitionPenalty = 1.1f, Seed = 1 };
        var greedy = sampled with { Temperature = 0 };
        Console.WriteLine($"generation: {Path.GetFileName(modelPath)} ({model.Config.Dim}d, {model.Config.Layers} layers, n_ctx {model.Config.ContextLength}, vocab {model.Config.VocabSize}), {tokens} tokens per run, load {LoadAverage.Read()}");
        Console.WriteLine("| round | step API, greedy | step API, sampled | streaming API, sampled | sampler alone (us/token) |");
        Console.WriteLine("|---|---|---|---|---|");
        var logits = new float[model.Config.VocabSize];
        var rng = new Random(2);
        for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 8);
        for (int r = 0; r <= rounds; r++)
        {
            double g = Steps(model, greedy), s = Steps(model, sampled), a = Stream(model, sampled).GetAwaiter().GetResult();
            double sampler = SamplerAlone(model, sampled, logits);
            if (r > 0) Console.WriteLine($"| {r} | {g:F0} tok/s | {s:F0} tok/s | {a:F0} tok/s | {sampler:F2} |");
        }
    }

    private static double Steps(EdgeModel model, GenerationOptions options)
    {
        using var generator = model.CreateGenerator(options);
        generator.AppendText("ROMEO:");
        long t0 = Stopwatch.GetTimestamp();
        while (!generator.IsDone) { generator.NextToken(); generator.TakeText(); }
        return generator.GeneratedTokens / Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    private static async Task<double> Stream(EdgeModel model, GenerationOptions options)
    {
        var stats = new GenerationStats();
        long t0 = Stopwatch.GetTimestamp();
        await foreach (var _ in model.GenerateAsync("ROMEO:", options, stats)) { }
        return stats.GeneratedTokens / Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    private static double SamplerAlone(EdgeModel model, GenerationOptions options, float[] logits)
    {
        var sampler = new Sampler(logits.Length, options.Validate(model.Config));
        int[] recent = [.. Enumerable.Range(0, 64).Select(i => i * 7 % logits.Length)];
        const int calls = 20_000;
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++) sampler.Sample(logits, recent);
        return Stopwatch.GetElapsedTime(t0).TotalSeconds * 1e6 / calls;
    }
}
