using System.Collections.Immutable;
using System.Text.Json.Serialization;
using EdgeShortcut.Core;

namespace EdgeShortcut.Trainer.Training;

/// <summary>
/// Every training setting in one immutable record (the CLI flags map one-to-one; defaults here are
/// the CLI defaults). It is stored in each checkpoint's training_state.json, so a resumed run
/// continues with exactly the settings it started with.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>Training corpus (UTF-8 text, or uint16 ids when <see cref="TokenVocab"/> is set).</summary>
    [JsonPropertyName("data")] public string DataPath { get; init; } = "";
    /// <summary>Optional separate validation corpus; otherwise the last 10% of the data.</summary>
    [JsonPropertyName("val_data")] public string? ValDataPath { get; init; }
    /// <summary>Run directory: receives <c>last/</c>, <c>best/</c> and <c>log.csv</c>.</summary>
    [JsonPropertyName("out")] public string OutDir { get; init; } = "runs/default";
    /// <summary>Declared vocab of a pre-tokenized uint16 corpus; null = byte tokenizer (256).</summary>
    [JsonPropertyName("token_vocab")] public int? TokenVocab { get; init; }

    /// <summary>Architecture: true = shortcut GPT, false = plain GPT baseline.</summary>
    [JsonPropertyName("shortcut")] public bool Shortcut { get; init; } = true;
    /// <summary>Blocks L.</summary>
    [JsonPropertyName("layers")] public int Layers { get; init; } = 6;
    /// <summary>Width d.</summary>
    [JsonPropertyName("dim")] public int Dim { get; init; } = 128;
    /// <summary>Heads H.</summary>
    [JsonPropertyName("heads")] public int Heads { get; init; } = 4;
    /// <summary>Context length T (= n_ctx).</summary>
    [JsonPropertyName("context")] public int Context { get; init; } = 256;
    /// <summary>Tapped layers; null = all of 1..L-1. Ignored for the baseline.</summary>
    [JsonPropertyName("taps")] public ImmutableArray<int>? Taps { get; init; }
    /// <summary>Feature-MLP width m; null = 4d.</summary>
    [JsonPropertyName("feature_dim")] public int? FeatureDim { get; init; }
    /// <summary>Whether the output head is the token embedding.</summary>
    [JsonPropertyName("tied_embeddings")] public bool TiedEmbeddings { get; init; } = true;
    /// <summary>Exit recipe: trunk depths (each in 1..L-2, increasing, with a tap at or below it) whose
    /// exits are trained beside the full depth; recorded in the model config as <c>exit_depths</c>.
    /// Null or empty = recipe off (training is then exactly the plain objective).</summary>
    [JsonPropertyName("exit_depths")] public ImmutableArray<int>? ExitDepths { get; init; }
    /// <summary>Weight w of the exit loss: loss = CE(full depth) + w * mean over exit depths of CE(exit).
    /// Used only with <see cref="ExitDepths"/>.</summary>
    [JsonPropertyName("exit_loss_weight")] public double ExitLossWeight { get; init; } = 1.0;
    /// <summary>Per-token exits of the exit recipe: with this probability each training token gets a depth d_t drawn
    /// uniformly from <see cref="ExitDepths"/> (otherwise L-1), skips the blocks above it (its keys and deeper
    /// memory entries hidden from later tokens) and is predicted by the exit head at d_t (docs/FORMAT.md section 4,
    /// "Exits"). 0 = off (training is then exactly the recipe without it). Requires <see cref="ExitDepths"/>.</summary>
    [JsonPropertyName("token_exit_rate")] public double TokenExitRate { get; init; }
    /// <summary>Late exit recipe: steps before this one train the plain objective (full depth only, no per-token
    /// exits), steps from it on the exit recipe. 0 = the recipe from the start. Requires <see cref="ExitDepths"/>.
    /// Why: the recipe costs full-depth quality when it shapes the trunk from the start (docs/ADAPTIVE.md); taught
    /// late, the exits adapt to a trunk that was trained for full depth.</summary>
    [JsonPropertyName("exit_from_step")] public int ExitFromStep { get; init; }

    /// <summary>Optimizer steps.</summary>
    [JsonPropertyName("steps")] public int Steps { get; init; } = 2000;
    /// <summary>Sequences per micro-batch.</summary>
    [JsonPropertyName("batch")] public int Batch { get; init; } = 16;
    /// <summary>Micro-batches per optimizer step (effective batch = batch x grad_accum).</summary>
    [JsonPropertyName("grad_accum")] public int GradAccum { get; init; } = 1;
    /// <summary>Peak learning rate.</summary>
    [JsonPropertyName("lr")] public double LearningRate { get; init; } = 1e-3;
    /// <summary>Learning rate at the end of the cosine decay.</summary>
    [JsonPropertyName("min_lr")] public double MinLearningRate { get; init; } = 1e-4;
    /// <summary>Linear warm-up steps.</summary>
    [JsonPropertyName("warmup")] public int Warmup { get; init; } = 100;
    /// <summary>AdamW decoupled weight decay (applied to matrices and embeddings, not to biases or LayerNorms).</summary>
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 0.1;
    /// <summary>Dropout probability (embeddings, attention probabilities, residual branches). Default 0,
    /// nanoGPT's pre-training default: 0.1 cost 2.7% held-out NLL at 1000 steps (docs/EXPERIMENTS.md,
    /// "Trainer recipe vs nanoGPT"); pass 0.1 for the earlier behaviour.</summary>
    [JsonPropertyName("dropout")] public double Dropout { get; init; }
    /// <summary>Initialise the feature MLPs' output projections with the residual std 0.02/sqrt(2L) like
    /// every attn.proj/mlp.proj (nanoGPT's rule applied to them); false = N(0, 0.02) as before.</summary>
    [JsonPropertyName("scaled_feature_init")] public bool ScaledFeatureInit { get; init; }
    /// <summary>Global gradient-norm clip; 0 disables.</summary>
    [JsonPropertyName("clip")] public double Clip { get; init; } = 1.0;
    /// <summary>Seed of the initial weights, the dropout generator and the batch sampler.</summary>
    [JsonPropertyName("seed")] public long Seed { get; init; } = 1337;
    /// <summary>Evaluate (and checkpoint) every this many steps, and at the end.</summary>
    [JsonPropertyName("eval_every")] public int EvalEvery { get; init; } = 250;
    /// <summary>Validation windows per forward batch during evaluation.</summary>
    [JsonPropertyName("eval_batch")] public int EvalBatch { get; init; } = 16;
    /// <summary>Torch intra-op threads; 0 = all cores.</summary>
    [JsonPropertyName("threads")] public int Threads { get; init; }

    /// <summary>The tokenizer the data is read with.</summary>
    [JsonIgnore] public TokenizerSpec Tokenizer => TokenVocab is int v ? new TokenizerSpec(TokenizerSpec.TokenFileKind, v) : TokenizerSpec.Bytes;

    /// <summary>The model these options describe (validated).</summary>
    public ModelConfig ModelConfig()
    {
        var c = EdgeShortcut.ModelConfig.Create(Layers, Dim, Heads, Context, Tokenizer.VocabSize, Shortcut) with { TiedEmbeddings = TiedEmbeddings };
        if (Shortcut && Taps is { } taps) c = c with { Taps = taps };
        if (FeatureDim is int m) c = c with { FeatureDim = m };
        if (ExitDepths is { IsDefault: false } exits) c = c with { ExitDepths = exits };
        return c.Validate();
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the CLI flag of the first bad setting.</summary>
    public TrainingOptions Validate()
    {
        Require(!string.IsNullOrWhiteSpace(DataPath), "--data", "is required");
        Require(!string.IsNullOrWhiteSpace(OutDir), "--out", "is required");
        Require(Steps >= 1, "--steps", $"must be >= 1 (got {Steps})");
        Require(Batch >= 1, "--batch", $"must be >= 1 (got {Batch})");
        Require(GradAccum >= 1, "--grad-accum", $"must be >= 1 (got {GradAccum})");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), "--lr", $"must be a positive number (got {LearningRate})");
        Require(MinLearningRate >= 0 && MinLearningRate <= LearningRate, "--min-lr", $"must be in 0..--lr (got {MinLearningRate})");
        Require(Warmup >= 0, "--warmup", $"must be >= 0 (got {Warmup})");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), "--weight-decay", $"must be >= 0 (got {WeightDecay})");
        Require(Dropout is >= 0 and < 1, "--dropout", $"must be in [0, 1) (got {Dropout})");
        Require(Clip >= 0 && double.IsFinite(Clip), "--clip", $"must be >= 0 (got {Clip})");
        Require(EvalEvery >= 1, "--eval-every", $"must be >= 1 (got {EvalEvery})");
        Require(EvalBatch >= 1, "--eval-batch", $"must be >= 1 (got {EvalBatch})");
        Require(Threads >= 0, "--threads", $"must be >= 0 (got {Threads})");
        Require(Shortcut || Taps is null, "--taps", "cannot be set for --arch baseline (the baseline has no tapped layers)");
        Require(ExitLossWeight >= 0 && double.IsFinite(ExitLossWeight), "--exit-loss-weight", $"must be >= 0 (got {ExitLossWeight})");
        Require(TokenExitRate is >= 0 and < 1, "--token-exit-rate", $"must be in [0, 1) (got {TokenExitRate})");
        Require(TokenExitRate == 0 || ExitDepths is { IsDefaultOrEmpty: false }, "--token-exit-rate",
            "requires --exit-depths (the depths a token may exit at)");
        Require(ExitFromStep >= 0 && ExitFromStep < Steps, "--exit-from-step", $"must be in 0..--steps - 1 (got {ExitFromStep})");
        Require(ExitFromStep == 0 || ExitDepths is { IsDefaultOrEmpty: false }, "--exit-from-step", "requires --exit-depths");
        Require(TokenVocab is null or (>= 2 and <= 65536), "--token-vocab", $"must be in 2..65536 (got {TokenVocab})");
        ModelConfig config;
        try { config = ModelConfig(); }
        catch (InvalidModelConfigException e) { throw new ArgumentException($"{FlagOf(e.Field)}: {e.Message}", FlagOf(e.Field), e); }
        RequireMemory(config);
        return this;
    }

    /// <summary>Weights, gradients and AdamW's two moments are 16 bytes per parameter: refuse a model
    /// whose parameters alone exceed the memory this process may use, instead of dying in the allocator.</summary>
    private void RequireMemory(ModelConfig config)
    {
        long parameters = TensorNames.ParameterCount(config);
        double needed = 16.0 * parameters, available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        Require(needed <= available, "--dim",
            $"{Dim} with --layers {Layers}, --context {Context} and vocab {config.VocabSize} gives {parameters:N0} parameters, which need {needed / (1 << 30):F1} GiB " +
            $"for weights, gradients and AdamW state; this machine has {available / (1 << 30):F1} GiB");
    }

    private static string FlagOf(string field) => field switch
    {
        "n_layer" => "--layers", "d_model" => "--dim", "n_head" => "--heads", "n_ctx" => "--context",
        "taps" => "--taps", "d_feature" => "--feature-dim", "vocab_size" => "--token-vocab",
        "exit_depths" => "--exit-depths", _ => field,
    };

    private static void Require(bool ok, string flag, string rule)
    {
        if (!ok) throw new ArgumentException($"{flag} {rule}.", flag);
    }
}
