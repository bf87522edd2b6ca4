using System.Diagnostics;
using System.Globalization;
using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Data;
using EdgeShortcut.Trainer.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Training;

/// <summary>
/// Trains a <see cref="ShortcutGpt"/> from <see cref="TrainingOptions"/>: AdamW (decay on matrices
/// and embeddings only), warm-up + cosine schedule, gradient accumulation and clipping, dropout,
/// evaluation on the whole validation split every N steps with a CSV log, and <c>last/</c> and
/// <c>best/</c> checkpoints that resume exactly. The CLI, the tests and the experiments runner all
/// call this in-process.
/// </summary>
public sealed class Trainer
{
    /// <summary>Name of the evaluation log under the run directory.</summary>
    public const string LogFile = "log.csv";
    private const string LogHeader = "step,tokens_seen,train_loss,val_nll,val_bpb,lr,elapsed_s";

    private readonly TrainingOptions _requested;
    private readonly bool _resume;
    private readonly ResumeOverrides? _overrides;

    /// <summary>A trainer for <paramref name="options"/>. With <paramref name="resume"/>, the run continues from
    /// <c>OUT/last</c> with the settings stored there, except the step count, evaluation interval and
    /// threads, which come from <paramref name="options"/>.</summary>
    public Trainer(TrainingOptions options, bool resume = false)
    {
        _requested = options;
        _resume = resume;
    }

    /// <summary>A trainer that continues the run in <paramref name="outDir"/> with every stored setting,
    /// except those <paramref name="overrides"/> gives (what <c>train --resume</c> does: a flag the user
    /// did not write keeps the stored value, not the CLI default).</summary>
    public static Trainer Resume(string outDir, ResumeOverrides overrides) =>
        new(new TrainingOptions { OutDir = outDir }, resume: true, overrides);

    private Trainer(TrainingOptions options, bool resume, ResumeOverrides overrides) : this(options, resume) => _overrides = overrides;

    /// <summary>Path of the <c>last/</c> checkpoint of a run directory.</summary>
    public static string LastDir(string outDir) => Path.Combine(outDir, "last");
    /// <summary>Path of the <c>best/</c> checkpoint of a run directory.</summary>
    public static string BestDir(string outDir) => Path.Combine(outDir, "best");

    /// <summary>Runs to the last step or until <paramref name="cancellation"/> fires (then writes
    /// <c>last/</c> and returns with <see cref="TrainingResult.Cancelled"/>).</summary>
    public TrainingResult Run(Action<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        TrainingState? resumed = _resume ? TrainingCheckpoint.ReadState(LastDir(_requested.OutDir)) : null;
        var o = (resumed is null ? _requested : _overrides is { } given
            ? resumed.Options with
            {
                Steps = given.Steps ?? resumed.Options.Steps, EvalEvery = given.EvalEvery ?? resumed.Options.EvalEvery,
                Threads = given.Threads ?? resumed.Options.Threads, OutDir = _requested.OutDir,
            }
            : resumed.Options with
            {
                Steps = _requested.Steps, EvalEvery = _requested.EvalEvery, Threads = _requested.Threads, OutDir = _requested.OutDir,
            }).Validate();
        var config = o.ModelConfig();
        torch.set_num_threads(o.Threads > 0 ? o.Threads : Environment.ProcessorCount);

        var (train, val) = LoadData(o);
        val.RequireWindow(o.Context, "validation");
        var sampler = new BatchSampler(train, o.Context, o.Seed);

        torch.manual_seed(o.Seed);
        using var model = new ShortcutGpt(config, o.Dropout, o.ScaledFeatureInit);
        using var optimizer = CreateOptimizer(model, o);
        int startStep = 0;
        long tokensSeen = 0;
        double? best = null;
        double elapsedBefore = 0;
        if (resumed is not null)
        {
            TrainingCheckpoint.LoadInto(LastDir(o.OutDir), model, optimizer);
            TrainingCheckpoint.RestoreRng(resumed.TorchRngState);
            (startStep, tokensSeen, best, elapsedBefore) = (resumed.Step, resumed.TokensSeen, resumed.BestValNll, resumed.ElapsedSeconds);
        }
        PrepareLog(o.OutDir, startStep);
        model.train();

        var losses = new List<double>();
        long tokensPerStep = (long)o.Batch * o.GradAccum * o.Context;
        var clock = new Stopwatch();
        EvalResult? lastEval = null;
        var inputs = new long[o.Batch * o.Context];
        var targets = new long[o.Batch * o.Context];
        var parameters = model.parameters().ToList();
        var exits = config.AllExits;                         // the exit recipe's depths, then L-1
        using var exitWeight = o.ExitLossWeight.ToScalar();
        using var accumScalar = o.GradAccum.ToScalar();   // held: `l / int` would build a temporary Scalar per call
        int step = startStep;
        int? savedStep = resumed is null ? null : startStep;   // the last good checkpoint in last/, for divergence messages
        bool cancelled = false;
        NonFiniteValueException Diverged(string what) => new(
            $"training diverged at step {step}: {what}. Nothing of this step was saved; " +
            (savedStep is int s ? $"the last good checkpoint, {LastDir(o.OutDir)} at step {s}, is kept." : "no checkpoint had been written yet.") +
            " Lower --lr (or keep --clip on) and start again.");

        while (step < o.Steps)
        {
            if (cancellation.IsCancellationRequested) { cancelled = true; break; }
            clock.Start();
            double lr = LearningRateSchedule.At(step, o.Steps, o.LearningRate, o.MinLearningRate, o.Warmup);
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
            double loss = 0;
            for (int micro = 0; micro < o.GradAccum; micro++)
            {
                using var scope = NewDisposeScope();
                sampler.Fill(step, micro, inputs, targets);
                var x = tensor(inputs, [o.Batch, o.Context]);
                var y = tensor(targets, [o.Batch * o.Context]);
                var l = config.ExitDepths.IsEmpty || step < o.ExitFromStep
                    ? nn.functional.cross_entropy(model.forward(x).view(-1, config.VocabSize), y)
                    : o.TokenExitRate == 0
                        ? ExitRecipeLoss(model.forward(x, exits), y, config.VocabSize, exitWeight)
                        : ExitRecipeLoss(model.forward(x, exits, TokenExitDepths(config, o.Batch, o.Context, o.TokenExitRate)), y, config.VocabSize, exitWeight);
                (l / accumScalar).backward();
                loss += l.item<float>() / o.GradAccum;
            }
            if (o.Clip > 0) nn.utils.clip_grad_norm_(parameters, o.Clip);
            optimizer.step();
            optimizer.zero_grad();
            clock.Stop();
            step++;
            tokensSeen += tokensPerStep;
            losses.Add(loss);
            if (!double.IsFinite(loss)) throw Diverged($"the training loss is {loss}");

            double tps = losses.Count * tokensPerStep / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            var eta = TimeSpan.FromSeconds((o.Steps - step) * clock.Elapsed.TotalSeconds / losses.Count);
            progress?.Invoke(new TrainingProgress(step, o.Steps, loss, lr, tps, clock.Elapsed, eta, null, best, false));

            if (step % o.EvalEvery == 0 || step == o.Steps)
            {
                try { lastEval = Evaluation.MeanNll(model, val, o.EvalBatch, cancellation); }
                catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
                {
                    // Cancelled mid-evaluation: the optimizer step is done, so keep it and stop as
                    // documented (last/ is written below); only this step's evaluation is skipped.
                    cancelled = true;
                    break;
                }
                model.train();
                if (!double.IsFinite(lastEval.MeanNll)) throw Diverged($"the validation NLL is {lastEval.MeanNll}");
                bool improved = best is null || lastEval.MeanNll < best;
                if (improved) best = lastEval.MeanNll;
                double elapsed = elapsedBefore + clock.Elapsed.TotalSeconds;
                AppendLog(o.OutDir, step, tokensSeen, loss, lastEval, lr, elapsed);
                var state = State(o, step, tokensSeen, best, lastEval.MeanNll, elapsed);
                try
                {
                    TrainingCheckpoint.Save(LastDir(o.OutDir), model, optimizer, o.Tokenizer, state);
                    if (improved) TrainingCheckpoint.Save(BestDir(o.OutDir), model, optimizer, o.Tokenizer, state);
                }
                catch (NonFiniteValueException e) { throw Diverged(e.Message); }
                savedStep = step;
                progress?.Invoke(new TrainingProgress(step, o.Steps, loss, lr, tps, clock.Elapsed, eta, lastEval, best, true));
            }
        }
        if (cancelled && step > startStep)
            TrainingCheckpoint.Save(LastDir(o.OutDir), model, optimizer, o.Tokenizer,
                State(o, step, tokensSeen, best, null, elapsedBefore + clock.Elapsed.TotalSeconds));

        double meanTps = losses.Count * tokensPerStep / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        return new TrainingResult(step, losses, lastEval, best, meanTps, cancelled, LastDir(o.OutDir), BestDir(o.OutDir));
    }

    /// <summary>Per-token depths <c>[batch, t]</c> (int64) for <c>--token-exit-rate</c> <paramref name="rate"/>: each
    /// token independently gets, with probability rate, a depth drawn uniformly from the config's exit depths,
    /// else L-1. Drawn from torch's global generator (seeded with the run and stored in every checkpoint, so
    /// runs repeat and resume exactly).</summary>
    internal static Tensor TokenExitDepths(ModelConfig config, long batch, long t, double rate)
    {
        using var scope = NewDisposeScope();
        using var rateScalar = rate.ToScalar();
        using var fullDepth = (config.Layers - 1).ToScalar();
        var exitDepths = tensor(config.ExitDepths.Select(e => (long)e).ToArray());
        var early = rand(batch, t).lt(rateScalar);                                                      // [B, T]
        var pick = exitDepths[randint(0, exitDepths.shape[0], [batch, t], dtype: ScalarType.Int64)];   // [B, T]
        var full = full_like(pick, fullDepth);
        return where(early, pick, full).MoveToOuterDisposeScope();
    }

    /// <summary>The exit recipe's objective: <c>CE(logits at L-1) + w * mean_e CE(logits at e)</c> over the
    /// listed exit depths; <paramref name="logits"/> holds the exits' logits in order, full depth last. With
    /// per-token exits the "L-1" logits are each token's prediction at its own depth.</summary>
    internal static Tensor ExitRecipeLoss(Tensor[] logits, Tensor targets, int vocab, Scalar weight)
    {
        var full = nn.functional.cross_entropy(logits[^1].reshape(-1, vocab), targets);
        var exitLosses = logits[..^1].Select(l => nn.functional.cross_entropy(l.reshape(-1, vocab), targets)).ToArray();
        return full.add(stack(exitLosses).mean(), weight);
    }

    /// <summary>Training and validation data: the last 10% of <c>--data</c> validates unless <c>--val-data</c> is given.</summary>
    public static (TokenCorpus Train, TokenCorpus Validation) LoadData(TrainingOptions o)
    {
        var data = TokenCorpus.Load(o.DataPath, o.Tokenizer);
        var (train, val) = o.ValDataPath is null ? data.SplitLastTenth() : (data, TokenCorpus.Load(o.ValDataPath, o.Tokenizer));
        train.RequireWindow(o.Context, "training");
        val.RequireWindow(o.Context, "validation");
        return (train, val);
    }

    /// <summary>AdamW with betas (0.9, 0.95); weight decay only on parameters with 2+ dimensions
    /// (linear weights and embeddings), not on biases or LayerNorm gains.</summary>
    internal static AdamW CreateOptimizer(ShortcutGpt model, TrainingOptions o)
    {
        var decay = model.parameters().Where(p => p.dim() >= 2).ToList();
        var noDecay = model.parameters().Where(p => p.dim() < 2).ToList();
        return optim.AdamW(
        [
            new AdamW.ParamGroup(decay, lr: o.LearningRate, beta1: 0.9, beta2: 0.95, weight_decay: o.WeightDecay),
            new AdamW.ParamGroup(noDecay, lr: o.LearningRate, beta1: 0.9, beta2: 0.95, weight_decay: 0),
        ], lr: o.LearningRate, beta1: 0.9, beta2: 0.95);
    }

    private static TrainingState State(TrainingOptions o, int step, long tokens, double? best, double? val, double elapsed) => new()
    {
        Step = step, TokensSeen = tokens, BestValNll = best, ValNll = val, ElapsedSeconds = elapsed,
        TorchRngState = TrainingCheckpoint.SaveRng(),
        Data = new DataPosition { NextStep = step, Seed = o.Seed },
        Options = o,
    };

    /// <summary>Starts log.csv, or on resume keeps only the rows up to the resumed step (so a resumed
    /// run's log equals an uninterrupted one's).</summary>
    private static void PrepareLog(string outDir, int startStep)
    {
        Directory.CreateDirectory(outDir);
        string path = Path.Combine(outDir, LogFile);
        var rows = new List<string> { LogHeader };
        if (startStep > 0 && File.Exists(path))
            rows.AddRange(File.ReadAllLines(path).Skip(1).Where(l => int.TryParse(l.Split(',')[0], out int s) && s <= startStep));
        AtomicFile.WriteAllText(path, string.Join('\n', rows) + "\n");
    }

    private static void AppendLog(string outDir, int step, long tokens, double loss, EvalResult val, double lr, double elapsed) =>
        File.AppendAllText(Path.Combine(outDir, LogFile), string.Create(CultureInfo.InvariantCulture,
            $"{step},{tokens},{loss:F6},{val.MeanNll:F6},{val.BitsPerToken:F6},{lr:G6},{elapsed:F1}\n"));
}
