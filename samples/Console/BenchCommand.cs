using System.Diagnostics;
using System.Text.Json;
using EdgeShortcut.Runtime;
using EdgeShortcut.Measure;

namespace EdgeShortcut.ConsoleSample;

/// <summary>
/// Side-by-side measurement of every backend that opens here, on one model, in one process:
/// decode tokens/s (batch 1, 256 greedy tokens), prefill time of a 256-token prompt (prefill plus the
/// first sample), and managed bytes allocated per decoded token (GC.GetAllocatedBytesForCurrentThread;
/// native allocations inside ONNX Runtime are not visible to it). The backends take turns run by run
/// (after one warm-up run each), so a noisy or drifting machine slows them alike; medians are reported.
/// </summary>
internal static class BenchCommand
{
    private const int DecodeTokens = 256, PrefillTokens = 256, PrefillRuns = 7, DecodeRuns = 7;
    private static readonly int[] OneToken = [10];   // a newline: the 1-token prompt decoding starts from

    private sealed record Result(string Backend, int Threads, double DecodeTokensPerS, double PrefillMs, double AllocBytesPerToken);

    /// <summary>One opened backend with its generator and the samples taken so far.</summary>
    private sealed class Contender(EdgeModel model, Generator generator) : IDisposable
    {
        public EdgeModel Model { get; } = model;
        public Generator Generator { get; } = generator;
        public List<double> PrefillMs { get; } = [];
        public List<double> TokensPerS { get; } = [];
        public List<double> AllocPerToken { get; } = [];
        public void Dispose() { Generator.Dispose(); Model.Dispose(); }
    }

    public static int Run(string modelPath, int threads, ActivationPrecision activations, bool json, CancellationToken ct)
    {
        var contenders = new List<Contender>();
        var notes = new List<string>();
        try
        {
            foreach (var kind in new[] { BackendKind.Managed, BackendKind.Cpu, BackendKind.DirectML })
            {
                ct.ThrowIfCancellationRequested();
                EdgeModel model;
                try { model = EdgeModel.Load(modelPath, new EdgeModelOptions { Backend = kind, Threads = threads, Activations = activations }); }
                catch (NotSupportedException e)
                {
                    Console.Error.WriteLine($"{Name(kind)}: not available here: {e.Message}");
                    continue;
                }
                contenders.Add(new Contender(model, model.CreateGenerator(GenerationOptions.Greedy with { MaxNewTokens = DecodeTokens + 1, ContextOverflow = ContextOverflowPolicy.Error })));
            }
            if (contenders.Count == 0) throw new CliException("no backend could open the model");

            int nCtx = contenders[0].Model.Config.ContextLength;
            int[] prompt = [.. Enumerable.Range(0, Math.Min(PrefillTokens, nCtx)).Select(i => 32 + i % 95)];
            if (prompt.Length < PrefillTokens) notes.Add($"n_ctx is {nCtx}: prefill measured on a {prompt.Length}-token prompt");
            if (nCtx <= DecodeTokens) notes.Add($"n_ctx is {nCtx}: {DecodeTokens} decode steps run in segments of at most {nCtx - 1}, restarting from a 1-token prompt");
            for (int run = 0; run <= PrefillRuns; run++)
                foreach (var c in contenders)
                {
                    ct.ThrowIfCancellationRequested();
                    double ms = PrefillOnce(c.Generator, prompt);
                    if (run > 0) c.PrefillMs.Add(ms);   // run 0 warms up
                }
            for (int run = 0; run <= DecodeRuns; run++)
                foreach (var c in contenders)
                {
                    ct.ThrowIfCancellationRequested();
                    var (tokensPerS, allocPerToken) = DecodeOnce(c.Generator, nCtx);
                    if (run == 0) continue;
                    c.TokensPerS.Add(tokensPerS);
                    c.AllocPerToken.Add(allocPerToken);
                }

            Console.Error.WriteLine($"load average before: {LoadAverage.Read()}");
            var results = contenders.Select(c => new Result(Name(c.Model.Backend), c.Model.Threads, Stats.Median(c.TokensPerS), Stats.Median(c.PrefillMs), Stats.Median(c.AllocPerToken))).ToList();
            foreach (var r in results)
                Console.Error.WriteLine($"{r.Backend,-9} {r.Threads} threads   decode {r.DecodeTokensPerS,9:F1} tokens/s   prefill({prompt.Length}) {r.PrefillMs,8:F2} ms   alloc {r.AllocBytesPerToken,8:F1} B/token");
            foreach (var note in notes.Distinct()) Console.Error.WriteLine($"note: {note}");
            if (json)
            {
                var doc = new
                {
                    model = modelPath,
                load_average = LoadAverage.Read(),
                    activations = activations.ToString().ToLowerInvariant(),
                    results = results.Select(r => new { backend = r.Backend, threads = r.Threads, decode_tokens_per_s = Math.Round(r.DecodeTokensPerS, 2), prefill_ms = Math.Round(r.PrefillMs, 3), alloc_bytes_per_token = Math.Round(r.AllocBytesPerToken, 1) }),
                };
                Console.WriteLine(JsonSerializer.Serialize(doc));
            }
            return 0;
        }
        finally
        {
            foreach (var c in contenders) c.Dispose();
        }
    }

    /// <summary>The whole prompt in one model call, plus the first sample; milliseconds.</summary>
    private static double PrefillOnce(Generator gen, int[] prompt)
    {
        gen.Reset();
        gen.AppendTokens(prompt);
        long t0 = Stopwatch.GetTimestamp();
        gen.NextToken();
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }

    /// <summary>256 single-token steps from a 1-token prompt (after its first sample: 257 samples, the
    /// generator's MaxNewTokens). With n_ctx &lt;= 256 the context fills first: the generator is reset to
    /// one token and decoding continues (positions restart at 0).</summary>
    private static (double TokensPerS, double AllocPerToken) DecodeOnce(Generator gen, int nCtx)
    {
        gen.Reset();
        gen.AppendTokens(OneToken);
        gen.NextToken();
        long bytes0 = GC.GetAllocatedBytesForCurrentThread(), t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < DecodeTokens; i++)
        {
            if (gen.CachedTokens + gen.PendingTokens > nCtx) { gen.Reset(); gen.AppendTokens(OneToken); }
            gen.NextToken();
        }
        double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return (DecodeTokens / seconds, (double)(GC.GetAllocatedBytesForCurrentThread() - bytes0) / DecodeTokens);
    }

    private static string Name(BackendKind kind) => kind.ToString().ToLowerInvariant();

}
