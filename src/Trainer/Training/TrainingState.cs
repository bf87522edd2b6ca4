using System.Text.Json.Serialization;

namespace EdgeShortcut.Trainer.Training;

/// <summary>The content of <c>training_state.json</c>: what a run needs, beside the weights and the
/// optimizer state, to continue exactly where it stopped.</summary>
public sealed record TrainingState
{
    /// <summary>Optimizer steps completed.</summary>
    [JsonPropertyName("step")] public int Step { get; init; }
    /// <summary>Training tokens consumed so far (steps x batch x grad_accum x T).</summary>
    [JsonPropertyName("tokens_seen")] public long TokensSeen { get; init; }
    /// <summary>Best validation NLL so far (nats/token); null before the first evaluation.</summary>
    [JsonPropertyName("best_val_nll")] public double? BestValNll { get; init; }
    /// <summary>Validation NLL of this checkpoint, if it was written right after an evaluation.</summary>
    [JsonPropertyName("val_nll")] public double? ValNll { get; init; }
    /// <summary>Torch's CPU generator state (base64), which drives dropout.</summary>
    [JsonPropertyName("torch_rng_state")] public string TorchRngState { get; init; } = "";
    /// <summary>The batch sampler is a pure function of (seed, step, micro, row): the next step is the data position.</summary>
    [JsonPropertyName("data_position")] public DataPosition Data { get; init; } = new();
    /// <summary>Wall-clock seconds spent training so far (for the log).</summary>
    [JsonPropertyName("elapsed_seconds")] public double ElapsedSeconds { get; init; }
    /// <summary>The run's settings; a resume reuses them.</summary>
    [JsonPropertyName("options")] public TrainingOptions Options { get; init; } = new();
}

/// <summary>Where the data stream stands.</summary>
public sealed record DataPosition
{
    /// <summary>Sampler name (documentation for readers of the file).</summary>
    [JsonPropertyName("sampler")] public string Sampler { get; init; } = "splitmix64(seed, step, micro, row) -> window start";
    /// <summary>The next step to draw.</summary>
    [JsonPropertyName("next_step")] public int NextStep { get; init; }
    /// <summary>Seed of the sampler.</summary>
    [JsonPropertyName("seed")] public long Seed { get; init; }
}
