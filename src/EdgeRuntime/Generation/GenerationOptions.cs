namespace EdgeShortcut.Runtime;

/// <summary>
/// How tokens are chosen and when generation stops. Immutable; <see cref="Validate"/> throws
/// <see cref="ArgumentException"/> whose ParamName is the option. The public entry points
/// (<see cref="EdgeModel.GenerateAsync(string, GenerationOptions?, CancellationToken)"/>,
/// <see cref="EdgeModel.CreateGenerator"/>, the chat client's constructor) call it once; everything
/// behind them trusts the options.
/// Sampling order: repetition penalty on the logits, then temperature, then top-k, then top-p.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Greedy decoding: always the most likely token (ties: the lowest id).</summary>
    public static GenerationOptions Greedy { get; } = new() { Temperature = 0 };

    /// <summary>Upper bound on sampled tokens (at least 1).</summary>
    public int MaxNewTokens { get; init; } = 256;

    /// <summary>Softmax temperature; 0 = greedy (top-k/top-p then have no effect).</summary>
    public float Temperature { get; init; } = 0.8f;

    /// <summary>Keep only the k most likely tokens (0 = no limit).</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: keep the smallest set of most likely tokens whose probability sum
    /// reaches p (in (0, 1]; 1 = no limit). The most likely token is always kept.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>CTRL-style penalty on tokens seen in the last <see cref="RepetitionWindow"/> tokens:
    /// a positive logit is divided by it, a negative one multiplied (1 = off, &gt; 1 discourages repeats).</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>How many recent tokens (prompt included) the repetition penalty looks at.</summary>
    public int RepetitionWindow { get; init; } = 64;

    /// <summary>Seed of the sampler's random generator: same seed, same model, same options = same
    /// output. Null = a fresh random seed per generation.</summary>
    public int? Seed { get; init; }

    /// <summary>Generation ends when the text produced ends with one of these; the stop sequence
    /// itself is not returned. Text that could begin a stop sequence is held back until decided.</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];

    /// <summary>What to do when the context is full (see <see cref="ContextOverflowPolicy"/>).</summary>
    public ContextOverflowPolicy ContextOverflow { get; init; } = ContextOverflowPolicy.SlidingWindow;

    /// <summary>How deep each generated token runs (<see cref="DepthPolicy"/>; default <see cref="DepthPolicy.Full"/>,
    /// the model as trained). Policies other than Full run on the managed engine only.</summary>
    public DepthPolicy Depth { get; init; } = DepthPolicy.Full;

    /// <summary>Fill <see cref="TokenDepth.TapAttention"/> for each generated token (<see cref="Generator.LastDepth"/>).
    /// Off by default: then the report costs nothing (the exit depth is always reported).</summary>
    public bool ReportDepth { get; init; }

    /// <summary>Checks every option; with <paramref name="model"/>, also that <see cref="Depth"/> can run on it.
    /// Returns this.</summary>
    public GenerationOptions Validate(ModelConfig? model = null)
    {
        if (MaxNewTokens is < 1 or > 1 << 24) Fail(nameof(MaxNewTokens), MaxNewTokens, "must be in 1..16777216");
        // A positive temperature below the minimum would overflow 1/T (1e-40 gave garbage, not greedy text).
        if (!float.IsFinite(Temperature) || !Core.SamplingLimits.IsValidTemperature(Temperature)) Fail(nameof(Temperature), Temperature, Core.SamplingLimits.TemperatureRule);
        if (TopK < 0) Fail(nameof(TopK), TopK, "must be >= 0 (0 = no limit)");
        if (!float.IsFinite(TopP) || TopP <= 0 || TopP > 1) Fail(nameof(TopP), TopP, "must be in (0, 1] (1 = no limit)");
        if (!float.IsFinite(RepetitionPenalty) || RepetitionPenalty <= 0 || RepetitionPenalty > 100) Fail(nameof(RepetitionPenalty), RepetitionPenalty, "must be in (0, 100] (1 = off)");
        if (RepetitionWindow < 0) Fail(nameof(RepetitionWindow), RepetitionWindow, "must be >= 0");
        if (StopSequences is null) Fail(nameof(StopSequences), "null", "must be a list (empty for none)");
        foreach (var s in StopSequences!)
            if (string.IsNullOrEmpty(s)) Fail(nameof(StopSequences), s is null ? "null" : "\"\"", "must not contain null or empty strings");
        if (!Enum.IsDefined(ContextOverflow)) Fail(nameof(ContextOverflow), (int)ContextOverflow, "is not a ContextOverflowPolicy");
        if (Depth is null) Fail(nameof(Depth), "null", "must be a DepthPolicy (DepthPolicy.Full for the whole model)");
        if (Depth!.Kind == DepthPolicyKind.SelfSpeculative && (Temperature != 0 || RepetitionPenalty != 1))
            Fail(nameof(Depth), Depth, "verifies drafts against the full model's greedy choice, so it needs Temperature = 0 and RepetitionPenalty = 1");
        if (model is not null) Depth.Validate(model);
        return this;
    }

    private static void Fail(string option, object value, string rule) =>
        throw new ArgumentException($"GenerationOptions.{option} = {value} {rule}.", option);
}
