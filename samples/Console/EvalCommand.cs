using System.Text.Json;
using EdgeShortcut.Core;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>
/// <c>eval</c>: teacher-forced held-out NLL of one model under several depth policies, with their speed.
/// The data is the trainer's held-out split (<see cref="HeldOutSplit"/>), cut into FORMAT.md section 6
/// windows, scored one token per model step as decoding runs (<see cref="TokenScorer"/>). Policies take
/// turns window by window in one process (the first contender rotates, after an untimed warm-up), so a drifting machine slows
/// them alike. A self-speculative policy has the full model's logits by construction: its NLL is
/// Full's, and its speed is measured by greedy generation against a greedy Full generator on the
/// same prompts (<see cref="SpeculativeRace"/>).
/// </summary>
internal static class EvalCommand
{
    private const int WarmUpPositions = 16;

    /// <summary>One row of the report.</summary>
    private sealed record Row(DepthPolicy Depth, double Nll, double Top1, double TokensPerS, double MeanExitDepth, long[] Histogram, SpeculativeRace? Race,
        string? Baseline = null);

    /// <param name="baselines">Other model files (e.g. plain GPTs) scored at full depth in the same turns, so their
    /// speeds compare fairly with the policies'; each must have the same n_ctx and tokenizer.</param>
    public static int Run(string modelPath, string dataPath, string depthList, int? positions, bool json, ActivationPrecision activations, CancellationToken ct,
        IReadOnlyList<string>? baselines = null, string? plotPath = null, KeyValueCachePrecision keyValueCache = KeyValueCachePrecision.Float32)
    {
        baselines ??= [];
        var policies = CliDepth.ParseList(depthList);
        if (positions is < 1) throw new CliUsageException($"--positions: {positions} must be at least 1 (omit it for the whole held-out split)");
        using var model = EdgeModel.Load(modelPath, new EdgeModelOptions { Backend = BackendKind.Managed, Activations = activations, KeyValueCache = keyValueCache });
        foreach (var p in policies) CliDepth.Validate(p, model.Config);

        int n = model.Config.ContextLength;
        foreach (string path in baselines)
        {
            var file = ModelFile.Read(path);
            if (file.Config.ContextLength != n || file.Tokenizer != model.File.Tokenizer)
                throw new CliUsageException($"--baseline {path}: n_ctx {file.Config.ContextLength} and tokenizer must equal the model's (n_ctx {n})");
        }
        int[] stream = HeldOutSplit.ReadTokens(dataPath, model.File.Tokenizer);
        int[] heldOut = HeldOutSplit.Of(stream);
        int windows = heldOut.Length < n + 1 ? 0 : (heldOut.Length - 1) / n;
        if (windows == 0)
            throw new CliException($"--data {dataPath}: the held-out split (last 10%: {heldOut.Length} of {stream.Length} tokens) is shorter than one window of n_ctx + 1 = {n + 1} tokens");
        int total = (int)Math.Min((long)windows * n, positions ?? int.MaxValue);
        windows = (total + n - 1) / n;
        string unit = model.File.Tokenizer.Kind == TokenizerSpec.ByteKind ? "byte" : "token";
        Console.Error.WriteLine($"eval: {Path.GetFileName(modelPath)} on the managed engine ({model.Activations.ToString().ToLowerInvariant()} activations, {model.KeyValueCache.ToString().ToLowerInvariant()} caches); " +
            $"held-out split of {dataPath}: tokens {HeldOutSplit.Start(stream.Length)}..{stream.Length} (last 10%), {total} positions in {windows} window(s) of {n}; " +
            $"{policies.Count} {(policies.Count == 1 ? "policy" : "policies in turns")}");

        // The scored policies, plus Full when a speculative row needs its NLL and Full is not listed.
        var scored = policies.Where(p => p.Kind != DepthPolicyKind.SelfSpeculative).ToList();
        bool anySpeculative = scored.Count < policies.Count;
        if (anySpeculative && !scored.Contains(DepthPolicy.Full)) scored.Insert(0, DepthPolicy.Full);
        var scorers = new List<(DepthPolicy Requested, TokenScorer Scorer, ScoreTotal Total)>();   // Scorer.Depth: the policy resolved for this file
        var others = new List<(string Path, EdgeModel Model, TokenScorer Scorer, ScoreTotal Total)>();
        SpeculativeRace? race = null;
        try
        {
            foreach (string path in baselines)
            {
                var other = EdgeModel.Load(path, new EdgeModelOptions { Backend = BackendKind.Managed, Activations = activations, KeyValueCache = keyValueCache });
                try { others.Add((path, other, other.CreateScorer(DepthPolicy.Full), new ScoreTotal(other.Config.SelfAttentionBlocks + 1))); }
                catch { other.Dispose(); throw; }
            }
            foreach (var p in scored) scorers.Add((p, model.CreateScorer(p), new ScoreTotal(model.Config.SelfAttentionBlocks + 1)));
            if (anySpeculative) race = new SpeculativeRace(model, policies.Where(p => p.Kind == DepthPolicyKind.SelfSpeculative));
            var contenders = new List<Action<int, int>>();   // (window start, positions) -> score or time that window
            foreach (var (_, scorer, sum) in scorers)
                contenders.Add((start, count) => sum.Add(scorer.Score(heldOut.AsSpan(start, n + 1), count, null, ct)));
            if (race is not null) contenders.Add((start, _) => race.Window(heldOut.AsSpan(start, n), ct));
            foreach (var o in others) contenders.Add((start, count) => o.Total.Add(o.Scorer.Score(heldOut.AsSpan(start, n + 1), count, null, ct)));

            // Warm-up (JIT, caches): each policy scores a few positions of the first window, and each generator runs once, untimed.
            foreach (var (_, scorer, _) in scorers) scorer.Score(heldOut.AsSpan(0, n + 1), Math.Min(n, WarmUpPositions), null, ct);
            foreach (var o in others) o.Scorer.Score(heldOut.AsSpan(0, n + 1), Math.Min(n, WarmUpPositions), null, ct);
            race?.Window(heldOut.AsSpan(0, n), ct, record: false);

            var progress = new EvalProgress(windows);
            int done = 0;
            for (int w = 0; w < windows; w++)
            {
                ct.ThrowIfCancellationRequested();
                int count = Math.Min(n, total - done);
                for (int i = 0; i < contenders.Count; i++) contenders[(w + i) % contenders.Count](w * n, count);
                done += count;
                progress.Report(w + 1);
            }
            progress.End();

            ScoreTotal Scored(DepthPolicy p) => scorers.First(s => s.Requested == p).Total;
            DepthPolicy Resolved(DepthPolicy p) => scorers.First(s => s.Requested == p).Scorer.Depth;   // "adaptive" -> "adaptive:T"
            var rows = policies.Select(p => p.Kind == DepthPolicyKind.SelfSpeculative
                ? new Row(p, Scored(DepthPolicy.Full).Nll, Scored(DepthPolicy.Full).Top1, race!.TokensPerS(p), race.MeanExitDepth(p), race.Histogram(p), race)
                : new Row(Resolved(p), Scored(p).Nll, Scored(p).Top1, Scored(p).TokensPerS, Scored(p).MeanExitDepth, Scored(p).Histogram, null)).ToList();
            rows.AddRange(others.Select(o => new Row(DepthPolicy.Full, o.Total.Nll, o.Total.Top1, o.Total.TokensPerS, o.Total.MeanExitDepth, o.Total.Histogram, null, o.Path)));
            PrintTable(rows, unit, race);
            if (plotPath is not null)
            {
                var points = rows.Where(r => r.Race is null).Select(r => new EvalPlot.Point(
                    r.Baseline is null ? r.Depth.ToString() : Path.GetFileNameWithoutExtension(r.Baseline), r.TokensPerS, r.Nll, r.Baseline is not null)).ToList();
                AtomicFile.WriteAllBytes(plotPath, EvalPlot.Png(points, $"{Path.GetFileName(modelPath)}: held-out NLL vs decode speed", unit));
                Console.Error.WriteLine($"eval: wrote {plotPath}");
            }
            if (json) Console.WriteLine(Json(modelPath, rows));
            return 0;
        }
        finally
        {
            foreach (var (_, scorer, _) in scorers) scorer.Dispose();
            foreach (var o in others) { o.Scorer.Dispose(); o.Model.Dispose(); }
            race?.Dispose();
        }
    }

    private static void PrintTable(List<Row> rows, string unit, SpeculativeRace? race)
    {
        var reference = rows.FirstOrDefault(r => r.Depth == DepthPolicy.Full && r.Baseline is null);
        Console.WriteLine($"{"depth",-18} {$"nll (nats/{unit})",16} {"vs full",8} {"tokens/s",10} {"speed",6} {"exit",5} {"top-1",6}  exit histogram (depth 0..L-1)");
        foreach (var r in rows)
        {
            string vsFull = reference is null ? "" : $"{(r.Nll / reference.Nll - 1) * 100:+0.00;-0.00}%";
            string speed = r.Race is not null ? $"{r.TokensPerS / r.Race.FullTokensPerS:F2}x"
                : reference is null ? "" : $"{r.TokensPerS / reference.TokensPerS:F2}x";
            string name = r.Baseline is null ? r.Depth.ToString() : Path.GetFileName(r.Baseline);
            Console.WriteLine($"{name,-18} {r.Nll,16:F5} {vsFull,8} {r.TokensPerS,10:F0} {speed,6} {r.MeanExitDepth,5:F2} {r.Top1 * 100,5:F1}%  [{string.Join(" ", r.Histogram)}]");
        }
        if (race is not null) Console.WriteLine(race.Note());
    }

    /// <summary>The last stdout line: <c>{"model":..,"results":[{"depth":..,"nll":..,"tokens_per_s":..,"mean_exit_depth":..,"exit_histogram":[..]},..]}</c>;
    /// rows of --baseline models add <c>"model"</c>; speculative rows add <c>full_tokens_per_s</c> (the greedy Full generator's speed on the same prompts), <c>identical_greedy</c> and <c>draft_acceptance</c>.</summary>
    private static string Json(string modelPath, List<Row> rows) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["model"] = modelPath,
        ["results"] = rows.Select(r =>
        {
            var o = new Dictionary<string, object>
            {
                ["depth"] = r.Depth.ToString(), ["nll"] = r.Nll, ["tokens_per_s"] = r.TokensPerS,
                ["mean_exit_depth"] = r.MeanExitDepth, ["exit_histogram"] = r.Histogram,
            };
            if (r.Baseline is not null) o["model"] = r.Baseline;
            if (r.Race is not null)
            {
                o["full_tokens_per_s"] = r.Race.FullTokensPerS;
                o["identical_greedy"] = r.Race.Identical(r.Depth);
                o["draft_acceptance"] = r.Race.Acceptance(r.Depth);
            }
            return o;
        }).ToList(),
    });

    /// <summary>Prints window progress to stderr: a rewritten line on a terminal, every tenth otherwise.</summary>
    private sealed class EvalProgress(int windows)
    {
        private readonly bool _terminal = !Console.IsErrorRedirected;
        private int _lastTenth;

        public void Report(int done)
        {
            if (_terminal) { Console.Error.Write($"\reval: window {done}/{windows}"); return; }
            int tenth = done * 10 / windows;
            if (tenth > _lastTenth && done < windows) Console.Error.WriteLine($"eval: {done}/{windows} windows");
            _lastTenth = tenth;
        }

        public void End()
        {
            if (_terminal) Console.Error.WriteLine();
        }
    }
}
