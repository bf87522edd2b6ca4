using System.Diagnostics;
using System.Text.Json;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>
/// Side-by-side measurement of every backend that opens here, on one model, in one process:
/// decode tokens/s (batch 1, 256 greedy tokens), prefill time of a 256-token prompt (prefill plus the
/// first sample), and managed bytes allocated per decoded token (GC.GetAllocatedBytesForCurrentThread;
/// native allocations inside ONNX Runtime are not visible to it). Medians of several runs, after a warm-up.
/// </summary>
internal static class BenchCommand
{
    private const int DecodeTokens = 256, PrefillTokens = 256, Runs = 5;
    private static readonly int[] OneToken = [10];   // a newline: the 1-token prompt decoding starts from

    private sealed record Result(string Backend, double DecodeTokensPerS, double PrefillMs, double AllocBytesPerToken);

    public static int Run(string modelPath, int threads, ActivationPrecision activations, bool json, CancellationToken ct)
    {
        var results = new List<Result>();
        var notes = new List<string>();
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
            using (model)
            {
                var r = Measure(model, notes, ct);
                results.Add(r);
                Console.Error.WriteLine($"{r.Backend,-9} decode {r.DecodeTokensPerS,9:F1} tokens/s   prefill({Math.Min(PrefillTokens, model.Config.ContextLength)}) {r.PrefillMs,8:F2} ms   alloc {r.AllocBytesPerToken,8:F1} B/token");
            }
        }
        foreach (var note in notes.Distinct()) Console.Error.WriteLine($"note: {note}");
        if (results.Count == 0) throw new CliException("no backend could open the model");
        if (json)
        {
            var doc = new
            {
                model = modelPath,
                activations = activations.ToString().ToLowerInvariant(),
                results = results.Select(r => new { backend = r.Backend, decode_tokens_per_s = Math.Round(r.DecodeTokensPerS, 2), prefill_ms = Math.Round(r.PrefillMs, 3), alloc_bytes_per_token = Math.Round(r.AllocBytesPerToken, 1) }),
            };
            Console.WriteLine(JsonSerializer.Serialize(doc));
        }
        return 0;
    }

    private static Result Measure(EdgeModel model, List<string> notes, CancellationToken ct)
    {
        int nCtx = model.Config.ContextLength;
        using var gen = model.CreateGenerator(GenerationOptions.Greedy with { MaxNewTokens = DecodeTokens, ContextOverflow = ContextOverflowPolicy.Error });
        int[] prompt = [.. Enumerable.Range(0, Math.Min(PrefillTokens, nCtx)).Select(i => 32 + i % 95)];
        if (prompt.Length < PrefillTokens) notes.Add($"n_ctx is {nCtx}: prefill measured on a {prompt.Length}-token prompt");

        // Prefill: the whole prompt in one model call, plus the first sample.
        var prefill = new List<double>();
        for (int run = 0; run <= Runs; run++)
        {
            gen.Reset();
            gen.AppendTokens(prompt);
            long t0 = Stopwatch.GetTimestamp();
            gen.NextToken();
            if (run > 0) prefill.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);   // run 0 warms up
        }

        // Decode: 256 single-token steps from a 1-token prompt. With n_ctx <= 256 the context fills
        // first: the generator is reset to one token and decoding continues (positions restart at 0).
        if (nCtx <= DecodeTokens) notes.Add($"n_ctx is {nCtx}: {DecodeTokens} decode steps run in segments of at most {nCtx - 1}, restarting from a 1-token prompt");
        var speeds = new List<double>();
        var allocs = new List<double>();
        for (int run = 0; run <= Runs / 2 + 1; run++)
        {
            ct.ThrowIfCancellationRequested();
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
            long bytes = GC.GetAllocatedBytesForCurrentThread() - bytes0;
            if (run == 0) continue;   // warm-up
            speeds.Add(DecodeTokens / seconds);
            allocs.Add((double)bytes / DecodeTokens);
        }
        return new Result(Name(model.Backend), Median(speeds), Median(prefill), Median(allocs));
    }

    private static string Name(BackendKind kind) => kind.ToString().ToLowerInvariant();

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs.Count % 2 == 1 ? xs[xs.Count / 2] : (xs[xs.Count / 2 - 1] + xs[xs.Count / 2]) / 2;
    }
}
