using System.Collections.Immutable;
using System.CommandLine;
using EdgeShortcut.Trainer.Training;
using static EdgeShortcut.Trainer.Cli.CliOptions;

namespace EdgeShortcut.Trainer.Cli;

/// <summary><c>train</c>: the CLI face of <see cref="Training.Trainer"/>; each flag is a <see cref="TrainingOptions"/> field.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var d = new TrainingOptions();
        var data = Plain<string>("--data", "Training corpus: UTF-8 text (byte tokenizer), or little-endian uint16 ids with --token-vocab.", required: true);
        var valData = Plain<string?>("--val-data", "Separate validation corpus [default: the last 10% of --data].");
        var tokenVocab = Plain<int?>("--token-vocab", "Treat --data as a pre-tokenized uint16 file with this vocab size [default: byte tokenizer, vocab 256].");
        var outDir = With("--out", d.OutDir, "Run directory: last/, best/ checkpoints and log.csv.");
        var arch = With("--arch", "shortcut", "Architecture: shortcut (final block attends over tapped features) or baseline (plain GPT).").AcceptOnlyFromAmong("shortcut", "baseline");
        var layers = With("--layers", d.Layers, "Number of blocks L (>= 2).");
        var dim = With("--dim", d.Dim, "Residual width d.");
        var heads = With("--heads", d.Heads, "Attention heads (must divide --dim).");
        var context = With("--context", d.Context, "Context length (learned positions).");
        var taps = With("--taps", "all", "Tapped layers: 'all' (1..L-1) or a list such as 2,4,6.");
        var featureDim = Plain<int?>("--feature-dim", "Feature-MLP width m [default: 4 x --dim].");
        var untied = With("--untied", false, "Use a separate output head instead of the token embedding.");
        var exitDepths = With("--exit-depths", "none", "Exit recipe: 'none', or trunk depths (each in 1..L-2) such as 1,2 whose exits are trained beside the full depth and recorded in config.json.");
        var exitLossWeight = With("--exit-loss-weight", d.ExitLossWeight, "Weight w of the exit loss: CE(full) + w * mean CE(exits); used with --exit-depths.");
        var tokenExitRate = With("--token-exit-rate", d.TokenExitRate, "Per-token exits: probability in [0, 1) that a training token exits at a depth drawn from --exit-depths (skipping deeper blocks, hidden there from later tokens); 0 = off. Requires --exit-depths.");
        var exitFromStep = With("--exit-from-step", d.ExitFromStep, "Late exit recipe: train the plain objective before this step and the exit recipe (--exit-depths, --exit-loss-weight, --token-exit-rate) from it on; 0 = from the start. Requires --exit-depths.");
        var steps = With("--steps", d.Steps, "Optimizer steps.");
        var batch = With("--batch", d.Batch, "Sequences per micro-batch.");
        var accum = With("--grad-accum", d.GradAccum, "Micro-batches per optimizer step (effective batch = batch x grad-accum).");
        var lr = With("--lr", d.LearningRate, "Peak learning rate (after warm-up).");
        var minLr = With("--min-lr", d.MinLearningRate, "Final learning rate of the cosine decay.");
        var warmup = With("--warmup", d.Warmup, "Linear warm-up steps.");
        var wd = With("--weight-decay", d.WeightDecay, "AdamW weight decay (matrices and embeddings only).");
        var dropout = With("--dropout", d.Dropout, "Dropout probability.");
        var clip = With("--clip", d.Clip, "Gradient-norm clip (0 = off).");
        var featureInit = With("--feature-init", d.ScaledFeatureInit ? "scaled" : "plain", "Init of the feature MLPs' output projections: scaled (std 0.02/sqrt(2L), like the residual projections) or plain (std 0.02).").AcceptOnlyFromAmong("scaled", "plain");
        var seed = With("--seed", d.Seed, "Seed of weights, dropout and batch sampling.");
        var evalEvery = With("--eval-every", d.EvalEvery, "Evaluate on the whole validation split and checkpoint every N steps (and at the end).");
        var evalBatch = With("--eval-batch", d.EvalBatch, "Validation windows per forward pass.");
        var threads = With("--threads", d.Threads, "Torch threads (0 = all cores).");
        var resume = With("--resume", false, "Continue OUT/last with its stored settings; only --steps, --eval-every and --threads may change.");

        var cmd = new Command("train", "Train a shortcut GPT (or the baseline) and write checkpoints.")
        {
            data, valData, tokenVocab, outDir, arch, layers, dim, heads, context, taps, featureDim, untied, exitDepths, exitLossWeight, tokenExitRate, exitFromStep, steps, batch, accum,
            lr, minLr, warmup, wd, dropout, clip, featureInit, seed, evalEvery, evalBatch, threads, resume,
        };
        cmd.SetAction(r =>
        {
            var options = new TrainingOptions
            {
                DataPath = r.GetValue(data)!, ValDataPath = r.GetValue(valData), TokenVocab = r.GetValue(tokenVocab),
                OutDir = r.GetValue(outDir)!, Shortcut = r.GetValue(arch) == "shortcut",
                Layers = r.GetValue(layers), Dim = r.GetValue(dim), Heads = r.GetValue(heads), Context = r.GetValue(context),
                Taps = ParseTaps(r.GetValue(taps)!), FeatureDim = r.GetValue(featureDim), TiedEmbeddings = !r.GetValue(untied),
                ExitDepths = ParseExitDepths(r.GetValue(exitDepths)!), ExitLossWeight = r.GetValue(exitLossWeight),
                TokenExitRate = r.GetValue(tokenExitRate), ExitFromStep = r.GetValue(exitFromStep),
                Steps = r.GetValue(steps), Batch = r.GetValue(batch), GradAccum = r.GetValue(accum),
                LearningRate = r.GetValue(lr), MinLearningRate = r.GetValue(minLr), Warmup = r.GetValue(warmup),
                WeightDecay = r.GetValue(wd), Dropout = r.GetValue(dropout), Clip = r.GetValue(clip), ScaledFeatureInit = r.GetValue(featureInit) == "scaled", Seed = r.GetValue(seed),
                EvalEvery = r.GetValue(evalEvery), EvalBatch = r.GetValue(evalBatch), Threads = r.GetValue(threads),
            };
            if (r.GetValue(resume))
            {
                Option[] fixedOnResume = [valData, tokenVocab, arch, layers, dim, heads, context, taps, featureDim, untied, exitDepths, exitLossWeight, tokenExitRate, exitFromStep, batch, accum, lr, minLr, warmup, wd, dropout, clip, featureInit, seed, evalBatch];
                var given = fixedOnResume.Where(opt => Given(r, opt)).Select(opt => opt.Name).ToList();
                if (given.Count > 0)
                    throw new ArgumentException($"--resume continues with the settings stored in {Training.Trainer.LastDir(options.OutDir)}; these cannot change: {string.Join(", ", given)}.");
                // Only what the user wrote replaces the stored value; a default would silently change the run.
                var overrides = new ResumeOverrides(
                    Given(r, steps) ? options.Steps : null, Given(r, evalEvery) ? options.EvalEvery : null, Given(r, threads) ? options.Threads : null);
                return TrainView.Run(Training.Trainer.Resume(options.OutDir, overrides));
            }
            options.Validate();
            return TrainView.Run(new Training.Trainer(options));
        });
        return cmd;
    }

    /// <summary>"none" = null (no exit recipe); otherwise a comma list of trunk depths.</summary>
    internal static ImmutableArray<int>? ParseExitDepths(string text)
    {
        if (text.Trim().Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        var depths = ImmutableArray.CreateBuilder<int>();
        foreach (var p in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            depths.Add(int.TryParse(p, out int e) ? e : throw new ArgumentException($"--exit-depths: '{p}' is not a depth (use 'none' or a list like 1,2).", "--exit-depths"));
        return depths.ToImmutable();
    }

    /// <summary>"all" = null (every layer 1..L-1); otherwise a comma list of 1-based layers.</summary>
    internal static ImmutableArray<int>? ParseTaps(string text)
    {
        if (text.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var taps = ImmutableArray.CreateBuilder<int>();
        foreach (var p in parts)
            taps.Add(int.TryParse(p, out int k) ? k : throw new ArgumentException($"--taps: '{p}' is not a layer number (use 'all' or a list like 2,4,6).", "--taps"));
        return taps.ToImmutable();
    }
}
