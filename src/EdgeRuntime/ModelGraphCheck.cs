using System.Globalization;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Runtime;

/// <summary>
/// Checks an EdgeShortcut ONNX file against its own metadata before any backend runs it, so that the
/// two backends agree or both refuse (issue 12, item 8). The managed engine reads the metadata and the
/// initializers; ONNX Runtime reads the graph; an edited file must not make them compute different
/// functions. Checked: every initializer the config implies, with its dtype, shape and finite values
/// (no other initializers but the graph's <c>const.*</c>, whose values must match their names); the
/// graph's inputs and outputs (names, and the fixed dims H, hd and V that the config implies); every
/// node an operator of FORMAT.md section 5 as the exporter writes it (<see cref="OperatorRules"/>) whose
/// inputs are defined before it; every graph output
/// produced; and the epsilon of every LayerNormalization equal to <c>ln_eps</c>. Every problem is a
/// <see cref="CheckpointFormatException"/> naming the file and the tensor, node or key.
/// </summary>
internal static class ModelGraphCheck
{
    /// <summary>Checks <paramref name="model"/>, whose validated metadata is <paramref name="file"/>. With
    /// <paramref name="requireGraph"/> false (the managed engine, which reads only initializers) a file without
    /// nodes passes; a file with nodes is checked in full either way.</summary>
    public static void Check(OnnxModel model, ModelFileInfo file, bool requireGraph)
    {
        var initializers = CheckInitializers(model.Graph, file);
        if (model.Graph.Nodes.Count == 0)
        {
            if (requireGraph) throw new CheckpointFormatException(file.Path, "the graph has no nodes: ONNX Runtime has nothing to run");
            return;
        }
        CheckSignature(model.Graph, file);
        CheckNodes(model.Graph, initializers, file);
    }

    private static Dictionary<string, OnnxTensor> CheckInitializers(OnnxGraph graph, ModelFileInfo file)
    {
        var byName = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        foreach (var t in graph.Initializers)
            if (!byName.TryAdd(t.Name, t)) throw Bad(file, $"initializer '{t.Name}' appears more than once");
        var expected = Expected(file.Config, file.Precision == OnnxMetadata.Int8);
        foreach (var (name, type, dims) in expected)   // in the managed loader's order, so both name the same first problem
        {
            if (!byName.TryGetValue(name, out var t)) throw Bad(file, $"initializer '{name}' is missing ({file.Precision} model)");
            if (t.DataType != type) throw Bad(file, $"initializer '{name}' is {t.DataType}, expected {type}");
            if (!t.Dims.AsSpan().SequenceEqual(dims))
                throw Bad(file, $"initializer '{name}' has shape [{string.Join(",", t.Dims)}], expected [{string.Join(",", dims)}] (from the metadata)");
            if (type == OnnxDataType.Float && Checkpoint.FirstNonFinite(t.AsFloats()) is int i)
                throw Bad(file, $"initializer '{name}' holds a non-finite value ({t.AsFloats()[i]}) at index {i}");
        }
        var names = expected.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var t in graph.Initializers)
            if (!names.Contains(t.Name))
            {
                if (!t.Name.StartsWith("const.", StringComparison.Ordinal)) throw Bad(file, $"initializer '{t.Name}' is not part of the model the metadata describes");
                CheckConstant(t, file);
            }
        return byName;
    }

    /// <summary>The exporter names each constant by its value (<c>const.f32.X</c>, <c>const.i64.X</c>, <c>const.i64s.A_B</c>).</summary>
    private static void CheckConstant(OnnxTensor t, ModelFileInfo file)
    {
        string[] parts = t.Name.Split('.', 3);
        bool ok = parts.Length == 3 && parts[1] switch
        {
            "f32" => t.DataType == OnnxDataType.Float && t.Dims.Length == 0 &&
                     float.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out float f) && t.AsFloats()[0].Equals(f),
            "i64" => t.DataType == OnnxDataType.Int64 && t.Dims.Length == 0 &&
                     long.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out long l) && t.AsInt64()[0] == l,
            "i64s" => t.DataType == OnnxDataType.Int64 && t.Dims.Length == 1 &&
                      string.Join("_", t.AsInt64().ToArray().Select(v => v.ToString(CultureInfo.InvariantCulture))) == parts[2],
            _ => false,
        };
        if (!ok) throw Bad(file, $"constant '{t.Name}' does not hold the value its name states");
    }

    private static void CheckSignature(OnnxGraph graph, ModelFileInfo file)
    {
        var c = file.Config;
        var caches = OnnxNames.Caches(c);
        if (graph.Inputs.Count != caches.Length + 1 || graph.Outputs.Count != caches.Length + 1)
            throw Bad(file, $"the graph has {graph.Inputs.Count} inputs and {graph.Outputs.Count} outputs; the config implies {caches.Length + 1} of each");
        var inputs = graph.Inputs.ToDictionary(v => v.Name, StringComparer.Ordinal);
        var outputs = graph.Outputs.ToDictionary(v => v.Name, StringComparer.Ordinal);
        OnnxValueInfo Find(Dictionary<string, OnnxValueInfo> set, string name, string what) =>
            set.TryGetValue(name, out var v) ? v : throw Bad(file, $"the graph has no {what} '{name}' (FORMAT.md section 5)");
        RequireDims(Find(inputs, OnnxNames.InputIds, "input"), OnnxDataType.Int64, [null, null], file);
        RequireDims(Find(outputs, OnnxNames.Logits, "output"), OnnxDataType.Float, [null, null, c.VocabSize], file);
        foreach (var cache in caches)
        {
            RequireDims(Find(inputs, cache.PastName, "input"), OnnxDataType.Float, [null, c.Heads, null, c.HeadDim], file);
            RequireDims(Find(outputs, cache.PresentName, "output"), OnnxDataType.Float, [null, c.Heads, null, c.HeadDim], file);
        }
    }

    /// <summary>The value's type and rank, and each fixed dim that <paramref name="dims"/> gives (null = symbolic).</summary>
    private static void RequireDims(OnnxValueInfo v, OnnxDataType type, long?[] dims, ModelFileInfo file)
    {
        string expected = string.Join(", ", dims.Select(d => d?.ToString(CultureInfo.InvariantCulture) ?? "*"));
        if (v.ElemType != type || v.Shape is null || v.Shape.Count != dims.Length)
            throw Bad(file, $"graph value '{v.Name}' is not {type} [{expected}] (FORMAT.md section 5)");
        for (int i = 0; i < dims.Length; i++)
            if (dims[i] is long d && (v.Shape[i].Param is not null || v.Shape[i].Value != d))
                throw Bad(file, $"graph value '{v.Name}' has shape [{string.Join(", ", v.Shape)}], the metadata implies [{expected}] (n_head, d_model or vocab_size edited?)");
    }

    private static void CheckNodes(OnnxGraph graph, Dictionary<string, OnnxTensor> initializers, ModelFileInfo file)
    {
        var defined = new HashSet<string>(initializers.Keys, StringComparer.Ordinal);
        foreach (var v in graph.Inputs) defined.Add(v.Name);
        foreach (var node in graph.Nodes)
        {
            string label = node.Name.Length > 0 ? node.Name : string.Join(",", node.Outputs);
            if (OperatorRules.Problem(node) is { } problem) throw Bad(file, $"node '{label}' {problem}");
            foreach (string input in node.Inputs)
                if (input.Length > 0 && !defined.Contains(input))
                    throw Bad(file, $"node '{label}' ({node.OpType}) reads '{input}', which no earlier node, input or initializer defines (a node was removed?)");
            if (node.OpType == "LayerNormalization") CheckEpsilon(node, label, file);
            foreach (string output in node.Outputs)
                if (output.Length > 0 && !defined.Add(output)) throw Bad(file, $"node '{label}' writes '{output}', which is already defined");
        }
        foreach (var v in graph.Outputs)
            if (!defined.Contains(v.Name)) throw Bad(file, $"graph output '{v.Name}' is produced by no node");
    }

    private static void CheckEpsilon(OnnxNode node, string label, ModelFileInfo file)
    {
        var eps = node.Attributes.FirstOrDefault(a => a.Name == "epsilon");
        float value = eps?.F ?? 1e-5f;   // ONNX's default when the attribute is absent
        if (eps is not null && eps.Type != OnnxAttributeType.Float) throw Bad(file, $"LayerNormalization '{label}' has a non-float epsilon");
        if (!value.Equals(file.Config.LayerNormEps))
            throw Bad(file, $"LayerNormalization '{label}' has epsilon {value.ToString("R", CultureInfo.InvariantCulture)}, the metadata's ln_eps is " +
                $"{file.Config.LayerNormEps.ToString("R", CultureInfo.InvariantCulture)}: the graph and the metadata disagree");
    }

    /// <summary>Every initializer the config implies (OnnxLinearWeights' layout), with its dtype and dims.</summary>
    private static List<(string Name, OnnxDataType Type, long[] Dims)> Expected(ModelConfig c, bool int8)
    {
        var list = new List<(string, OnnxDataType, long[])>();
        void Linear(string stem, long rows, long cols)
        {
            if (int8)
            {
                list.Add((OnnxNames.WeightScale(stem), OnnxDataType.Float, [rows]));
                list.Add((OnnxNames.QuantizedWeight(stem), OnnxDataType.Int8, [cols, rows]));
            }
            else list.Add((OnnxNames.TransposedWeight(stem), OnnxDataType.Float, [cols, rows]));
        }
        foreach (var (name, shape) in TensorNames.All(c))
        {
            if (OnnxLinearWeights.IsLinearWeight(name, shape)) Linear(OnnxNames.LinearStem(name), shape[0], shape[1]);
            else list.Add((name, OnnxDataType.Float, [.. shape.Select(s => (long)s)]));
        }
        if (c.TiedEmbeddings) Linear(OnnxNames.HeadStem, c.VocabSize, c.Dim);
        return list;
    }

    private static CheckpointFormatException Bad(ModelFileInfo file, string problem) => new(file.Path, problem);
}
