using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>The <c>--depth</c> flag: parses policies (<see cref="DepthPolicy.Parse"/>'s spelling), picks the
/// backend they need and checks them against the model, every failure a usage error naming the flag.</summary>
internal static class CliDepth
{
    public const string Flag = "--depth";
    public const string Spelling = "full | fixed:E | adaptive[:THRESHOLD] | speculative[:DEPTH[:MAXDRAFT]]";

    /// <summary>One policy.</summary>
    public static DepthPolicy Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return DepthPolicy.Full;
        try { return DepthPolicy.Parse(text); }
        catch (FormatException e) { throw new CliUsageException($"{Flag}: {e.Message}"); }
    }

    /// <summary>A comma-separated list of distinct policies (at least one).</summary>
    public static IReadOnlyList<DepthPolicy> ParseList(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new CliUsageException($"{Flag}: give at least one policy ({Spelling}), comma-separated");
        var policies = text.Split(',', StringSplitOptions.TrimEntries).Select(Parse).ToList();
        var repeated = policies.GroupBy(p => p.ToString()).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null) throw new CliUsageException($"{Flag}: '{repeated.Key}' is listed twice");
        return policies;
    }

    /// <summary>The backend to load: a policy other than Full runs on the managed engine only, so
    /// <see cref="BackendKind.Auto"/> becomes Managed for it, and another forced backend is refused.</summary>
    public static BackendKind Backend(DepthPolicy policy, BackendKind requested)
    {
        if (policy.Kind == DepthPolicyKind.Full) return requested;
        if (requested is BackendKind.Auto or BackendKind.Managed) return BackendKind.Managed;
        throw new CliUsageException($"{Flag} {policy} runs on the managed engine only, and --backend asks for {requested.ToString().ToLowerInvariant()} " +
            "(drop --backend or pass --backend managed; the ONNX graph has no exits)");
    }

    /// <summary>Throws a usage error naming the flag when the model cannot run <paramref name="policy"/>.</summary>
    public static DepthPolicy Validate(DepthPolicy policy, ModelConfig config)
    {
        try { return policy.Validate(config); }
        catch (ArgumentException e) { throw new CliUsageException($"{Flag}: {e.Message.Split(" (Parameter")[0]}"); }
    }
}
