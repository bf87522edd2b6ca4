using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Runtime;

/// <summary>
/// The operators of an EdgeShortcut graph exactly as the exporter writes them (FORMAT.md section 5,
/// "Graph"; <c>src/Quantize/Export/GraphBuilder.cs</c>): how many inputs and outputs each has (no optional
/// input is ever left empty) and which attributes with which values. ONNX Runtime trusts much of this
/// and crashed the process on some violations (a LayerNormalization without its bias input segfaulted
/// in the fuzzer), so a file that differs is refused before ONNX Runtime sees it.
/// </summary>
internal static class OperatorRules
{
    private sealed record Rule(int MinInputs, int MaxInputs, int MinOutputs, int MaxOutputs, Dictionary<string, Func<OnnxAttribute, bool>> Attributes);

    private static Func<OnnxAttribute, bool> IntIs(params long[] allowed) => a => a.Type == OnnxAttributeType.Int && allowed.Contains(a.I);

    private static readonly Dictionary<string, Func<OnnxAttribute, bool>> None = [];

    private static readonly Dictionary<string, Rule> Rules = new(StringComparer.Ordinal)
    {
        ["Shape"] = new(1, 1, 1, 1, None),
        ["Gather"] = new(2, 2, 1, 1, new() { ["axis"] = IntIs(0) }),
        ["Add"] = new(2, 2, 1, 1, None),
        ["Mul"] = new(2, 2, 1, 1, None),
        ["Div"] = new(2, 2, 1, 1, None),
        ["Range"] = new(3, 3, 1, 1, None),
        ["Unsqueeze"] = new(2, 2, 1, 1, None),
        ["LessOrEqual"] = new(2, 2, 1, 1, None),
        ["Where"] = new(3, 3, 1, 1, None),
        ["LayerNormalization"] = new(3, 3, 1, 1, new()
        {
            ["axis"] = IntIs(-1),
            ["epsilon"] = a => a.Type == OnnxAttributeType.Float && float.IsFinite(a.F) && a.F > 0,
        }),
        ["MatMul"] = new(2, 2, 1, 1, None),
        ["DequantizeLinear"] = new(2, 2, 1, 1, new() { ["axis"] = IntIs(1) }),
        ["Reshape"] = new(2, 2, 1, 1, None),
        ["Transpose"] = new(1, 1, 1, 1, new()
        {
            ["perm"] = a => a.Type == OnnxAttributeType.Ints && (a.Ints.SequenceEqual([0, 2, 1, 3]) || a.Ints.SequenceEqual([0, 1, 3, 2])),
        }),
        ["Split"] = new(1, 1, 2, 3, new() { ["axis"] = IntIs(1) }),
        ["Concat"] = new(1, 64, 1, 1, new() { ["axis"] = IntIs(2) }),
        ["Softmax"] = new(1, 1, 1, 1, new() { ["axis"] = IntIs(-1) }),
        ["Erf"] = new(1, 1, 1, 1, None),
        ["Identity"] = new(1, 1, 1, 1, None),
    };

    /// <summary>What is wrong with <paramref name="node"/>, or null when it is an operator the exporter writes, as it writes it.</summary>
    public static string? Problem(OnnxNode node)
    {
        if (node.Domain.Length > 0 || !Rules.TryGetValue(node.OpType, out var rule))
            return $"is operator '{node.Domain}{(node.Domain.Length > 0 ? "." : "")}{node.OpType}', which EdgeShortcut files do not use";
        if (node.Inputs.Count < rule.MinInputs || node.Inputs.Count > rule.MaxInputs || node.Inputs.Any(i => i.Length == 0))
            return $"({node.OpType}) has inputs [{string.Join(", ", node.Inputs.Select(i => i.Length == 0 ? "<empty>" : i))}]; it takes {Count(rule.MinInputs, rule.MaxInputs)} named inputs";
        if (node.Outputs.Count < rule.MinOutputs || node.Outputs.Count > rule.MaxOutputs || node.Outputs.Any(o => o.Length == 0))
            return $"({node.OpType}) has {node.Outputs.Count} outputs; it makes {Count(rule.MinOutputs, rule.MaxOutputs)}";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var a in node.Attributes)
        {
            if (!seen.Add(a.Name)) return $"({node.OpType}) has attribute '{a.Name}' twice";
            if (!rule.Attributes.TryGetValue(a.Name, out var valid)) return $"({node.OpType}) has attribute '{a.Name}', which the format does not use";
            if (!valid(a)) return $"({node.OpType}) has attribute '{a.Name}' with a value the format does not use";
        }
        foreach (var name in rule.Attributes.Keys)
            if (!seen.Contains(name)) return $"({node.OpType}) lacks attribute '{name}'";
        return null;
    }

    private static string Count(int min, int max) => min == max ? $"{min}" : $"{min} to {max}";
}
