using System.Globalization;

namespace EdgeShortcut.Runtime;

/// <summary>The kinds of <see cref="DepthPolicy"/>.</summary>
public enum DepthPolicyKind
{
    /// <summary>Every token runs every layer (the model as trained; the default).</summary>
    Full,
    /// <summary>Every token exits at one depth.</summary>
    Fixed,
    /// <summary>Each token exits at the first exit whose prediction is confident enough.</summary>
    Adaptive,
    /// <summary>Drafts at a shallow exit, verifies with the full model; greedy output equals <see cref="Full"/>.</summary>
    SelfSpeculative,
}

/// <summary>
/// How deep each generated token runs (issue 10; docs/ADAPTIVE.md). A depth e in 1..L-1 means: ordinary
/// blocks 1..e run, and the shortcut block predicts from <c>LN_q(x_e)</c> over the memory entries of
/// the taps &lt;= e (FORMAT.md section 4, "Exits"). Depths other than L-1 must be exits the model was
/// trained for (<see cref="ModelConfig.ExitDepths"/>). Immutable; <see cref="Validate"/> checks it
/// against a model. Spelled as text by <see cref="Parse"/> and <see cref="ToString"/>:
/// <c>full</c>, <c>fixed:E</c>, <c>adaptive[:THRESHOLD]</c>, <c>speculative[:DEPTH[:MAXDRAFT]]</c>.
/// </summary>
public sealed record DepthPolicy
{
    private DepthPolicy(DepthPolicyKind kind, int depth = 0, float? threshold = null, int maxDraft = 0)
    {
        Kind = kind;
        Depth = depth;
        Threshold = threshold;
        MaxDraft = maxDraft;
    }

    /// <summary>Which policy this is.</summary>
    public DepthPolicyKind Kind { get; }

    /// <summary><see cref="DepthPolicyKind.Fixed"/>: the exit depth. <see cref="DepthPolicyKind.SelfSpeculative"/>:
    /// the draft depth (0 = the shallowest trained exit). Otherwise 0.</summary>
    public int Depth { get; }

    /// <summary><see cref="DepthPolicyKind.Adaptive"/>: the confidence (top-1 probability of an exit's
    /// prediction) at or above which a token exits; null = the model file's recommended threshold
    /// (<see cref="ModelFileInfo.AdaptiveThreshold"/>), else <see cref="DefaultThreshold"/>. Otherwise null.</summary>
    public float? Threshold { get; }

    /// <summary><see cref="DepthPolicyKind.SelfSpeculative"/>: most tokens drafted before a verification.</summary>
    public int MaxDraft { get; }

    /// <summary>Every token runs every layer.</summary>
    public static DepthPolicy Full { get; } = new(DepthPolicyKind.Full);

    /// <summary>Every token exits at <paramref name="depth"/> (an exit of the model, or L-1).</summary>
    public static DepthPolicy Fixed(int depth) => new(DepthPolicyKind.Fixed, depth);

    /// <summary>Per token, the first exit whose top-1 probability reaches <paramref name="threshold"/>
    /// (in (0, 1]; null = the file's recommended threshold, else <see cref="DefaultThreshold"/>).</summary>
    public static DepthPolicy Adaptive(float? threshold = null) => new(DepthPolicyKind.Adaptive, threshold: threshold);

    /// <summary>Drafts up to <paramref name="maxDraft"/> tokens at <paramref name="draftDepth"/> (0 = the
    /// shallowest exit), then verifies them with the full model in one batched pass and keeps the
    /// longest agreeing prefix. Greedy decoding only; the output is identical to <see cref="Full"/>.</summary>
    public static DepthPolicy SelfSpeculative(int draftDepth = 0, int maxDraft = 4) =>
        new(DepthPolicyKind.SelfSpeculative, draftDepth, maxDraft: maxDraft);

    /// <summary>The adaptive threshold used when none is given and the file recommends none, chosen by measurement (docs/ADAPTIVE.md): on the
    /// exit-trained model of the default shape (exits {2,4}, per-token skipping) the threshold sweep
    /// 0.05..0.9 gave 1.58x the full model's decode speed at +0.67% held-out NLL at 0.2, the lowest
    /// threshold that still sends some tokens to full depth (at 0.1 and below every token exits early).</summary>
    public const float DefaultThreshold = 0.2f;

    /// <summary>Most drafted tokens per verification.</summary>
    public const int MaxDraftLimit = 32;

    /// <summary>The exit depth to use for a token under <see cref="DepthPolicyKind.Fixed"/>/<see cref="DepthPolicyKind.SelfSpeculative"/>
    /// on model <paramref name="c"/> (resolves a draft depth of 0 to the shallowest exit).</summary>
    internal int ResolvedDepth(ModelConfig c) => Kind switch
    {
        DepthPolicyKind.Fixed => Depth,
        DepthPolicyKind.SelfSpeculative => Depth == 0 && !c.ExitDepths.IsDefaultOrEmpty ? c.ExitDepths[0] : Depth,
        _ => c.Layers - 1,
    };

    /// <summary>The threshold an adaptive policy uses.</summary>
    internal float ResolvedThreshold => Threshold ?? DefaultThreshold;

    /// <summary>Checks this policy against model <paramref name="c"/>; throws <see cref="ArgumentException"/>
    /// (ParamName <c>Depth</c>) saying why it cannot run there. Returns this.</summary>
    public DepthPolicy Validate(ModelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        int full = c.Layers - 1;
        string exits = c.ExitDepths.IsDefaultOrEmpty ? "none" : string.Join(",", c.ExitDepths);
        switch (Kind)
        {
            case DepthPolicyKind.Full:
                break;
            case DepthPolicyKind.Fixed:
                if (Depth < 1 || Depth > full) Fail($"depth {Depth} is outside 1..{full} (L-1 for this {c.Layers}-layer model)");
                if (!c.IsExit(Depth)) Fail($"depth {Depth} is not an exit of this model (trained exits: {exits}; full depth {full})");
                break;
            case DepthPolicyKind.Adaptive:
                if (Threshold is { } t && !(t > 0 && t <= 1)) Fail($"threshold {t} must be in (0, 1]");
                RequireRecipe(c, "Adaptive");
                break;
            case DepthPolicyKind.SelfSpeculative:
                RequireRecipe(c, "SelfSpeculative");
                int d = ResolvedDepth(c);
                if (d < 1 || d >= full) Fail($"draft depth {d} must be an exit below the full depth {full}");
                if (!c.IsExit(d)) Fail($"draft depth {d} is not an exit of this model (trained exits: {exits})");
                if (MaxDraft < 1 || MaxDraft > MaxDraftLimit) Fail($"max draft {MaxDraft} is outside 1..{MaxDraftLimit}");
                break;
            default:
                Fail($"{(int)Kind} is not a DepthPolicyKind");
                break;
        }
        return this;
    }

    private void RequireRecipe(ModelConfig c, string name)
    {
        if (!c.IsShortcut) Fail($"{name} needs a shortcut model; this is a plain GPT (no taps, so no exit head)");
        if (c.ExitDepths.IsDefaultOrEmpty)
            Fail($"{name} needs a model trained with the exit recipe, and this one has no exit depths " +
                 "(exit_depths is empty: it was trained before the recipe or without --exit-depths, so its shallow exits were never trained)");
    }

    private void Fail(string why) => throw new ArgumentException($"Depth policy '{this}': {why}.", "Depth");

    /// <summary>Parses <c>full</c>, <c>fixed:E</c>, <c>adaptive[:THRESHOLD]</c> or <c>speculative[:DEPTH[:MAXDRAFT]]</c>
    /// (case-insensitive, invariant culture). Throws <see cref="FormatException"/> naming the text.</summary>
    public static DepthPolicy Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Trim().Split(':');
        string kind = parts[0].ToLowerInvariant();
        int Int(int i, string what) => int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)
            ? v : throw new FormatException($"Depth policy '{text}': {what} '{parts[i]}' is not an integer.");
        float Float(int i, string what) => float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out float v)
            ? v : throw new FormatException($"Depth policy '{text}': {what} '{parts[i]}' is not a number.");
        void Arity(int min, int max)
        {
            if (parts.Length - 1 < min || parts.Length - 1 > max)
                throw new FormatException($"Depth policy '{text}': '{kind}' takes {(min == max ? $"{min}" : $"{min} to {max}")} ':'-separated value(s).");
        }
        switch (kind)
        {
            case "full": Arity(0, 0); return Full;
            case "fixed": Arity(1, 1); return Fixed(Int(1, "depth"));
            case "adaptive": Arity(0, 1); return Adaptive(parts.Length > 1 ? Float(1, "threshold") : null);
            case "speculative":
                Arity(0, 2);
                return SelfSpeculative(parts.Length > 1 ? Int(1, "draft depth") : 0, parts.Length > 2 ? Int(2, "max draft") : 4);
            default:
                throw new FormatException($"Depth policy '{text}' is not one of full, fixed:E, adaptive[:THRESHOLD], speculative[:DEPTH[:MAXDRAFT]].");
        }
    }

    /// <summary>The policy in <see cref="Parse"/>'s spelling.</summary>
    public override string ToString() => Kind switch
    {
        DepthPolicyKind.Fixed => $"fixed:{Depth}",
        DepthPolicyKind.Adaptive => Threshold is { } t ? $"adaptive:{t.ToString(CultureInfo.InvariantCulture)}" : "adaptive",
        DepthPolicyKind.SelfSpeculative => $"speculative:{Depth}:{MaxDraft}",
        DepthPolicyKind.Full => "full",
        _ => $"DepthPolicyKind({(int)Kind})",
    };
}
