using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.Runtime;

/// <summary>
/// Runs a generator's pending tokens under its <see cref="DepthPolicy"/> and reports how deep the last one
/// went (<see cref="TokenDepth"/>). Full depth without reports is the backend's plain
/// <see cref="IInferenceSequence.Append"/> (any backend); everything else needs the managed engine
/// (<see cref="EdgeModel"/> refuses other backends before a runner is made).
/// <list type="bullet">
/// <item>Full, Fixed(e): every token at that depth (a prompt too: Fixed means every token).</item>
/// <item>Adaptive: a prompt's tokens run at full depth except the last, which (like every generated token)
/// exits at the first confident exit.</item>
/// <item>SelfSpeculative: prompts run at full depth; generated tokens come from <see cref="SpeculativeDecoder"/>.</item>
/// </list>
/// </summary>
internal sealed class DepthRunner
{
    private readonly IInferenceSequence _sequence;
    private readonly ManagedSequence? _managed;
    private readonly DepthPolicy _policy;
    private readonly int _depth;            // Full/Fixed: the exit depth
    private readonly float[] _tapMass;      // [|S|], filled only when reporting
    private readonly bool _report;

    public DepthRunner(IInferenceSequence sequence, ModelConfig config, GenerationOptions options)
    {
        _sequence = sequence;
        _managed = sequence as ManagedSequence;
        _policy = options.Depth;
        _report = options.ReportDepth && config.IsShortcut;
        if ((_policy.Kind != DepthPolicyKind.Full || _report) && _managed is null)
            throw new NotSupportedException($"Depth policy '{_policy}'{(options.ReportDepth ? " with depth reports" : "")} runs on the managed engine only.");
        // The full depth: blocks a full-depth token runs (L-1 beside the shortcut block; L in a plain GPT).
        _depth = _policy.Kind == DepthPolicyKind.Fixed ? _policy.Depth : _managed?.FullDepth ?? config.SelfAttentionBlocks;
        _tapMass = new float[Math.Max(1, config.TapCount)];
        if (_managed is not null) _managed.UseMasks = _policy.Kind == DepthPolicyKind.Adaptive;
        Speculative = _policy.Kind == DepthPolicyKind.SelfSpeculative ? new SpeculativeDecoder(_managed!, config, _policy) : null;
        Last = new TokenDepth(0, ReadOnlyMemory<float>.Empty);
    }

    /// <summary>The self-speculative decoder, under that policy; null otherwise.</summary>
    public SpeculativeDecoder? Speculative { get; }

    /// <summary>How deep the last token run went.</summary>
    public TokenDepth Last { get; private set; }

    /// <summary>Runs <paramref name="tokens"/> (pending; at least one) and returns the logits of the last.</summary>
    public ReadOnlySpan<float> Run(ReadOnlySpan<int> tokens)
    {
        if (_managed is null) return Plain(tokens, _depth);
        switch (_policy.Kind)
        {
            case DepthPolicyKind.Adaptive:
                if (tokens.Length > 1) _managed.Append(tokens[..^1]);
                var logits = _managed.AppendAdaptive(tokens[^1], _policy.ResolvedThreshold, out int depth, _report ? _tapMass : default);
                Last = new TokenDepth(depth, _report ? _tapMass : ReadOnlyMemory<float>.Empty);
                return logits;
            case DepthPolicyKind.Fixed:
                return Managed(tokens, _depth);
            default:
                return Managed(tokens, _managed.FullDepth);
        }
    }

    /// <summary>Notes the depth of a token produced elsewhere (the speculative decoder's full-depth tokens).</summary>
    public void Produced(int depth) => Last = new TokenDepth(depth, ReadOnlyMemory<float>.Empty);

    private ReadOnlySpan<float> Plain(ReadOnlySpan<int> tokens, int depth)
    {
        Last = new TokenDepth(depth, ReadOnlyMemory<float>.Empty);
        return _sequence.Append(tokens);
    }

    private ReadOnlySpan<float> Managed(ReadOnlySpan<int> tokens, int depth)
    {
        Last = new TokenDepth(depth, _report ? _tapMass : ReadOnlyMemory<float>.Empty);
        return _managed!.AppendAtDepth(tokens, depth, _report ? _tapMass : default);
    }
}
