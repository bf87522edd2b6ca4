using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Quantize;

/// <summary>
/// Appends default-domain ONNX nodes to an <see cref="OnnxGraph"/> with unique value names, and
/// stores constants as initializers (shared by value, so a graph has one "1" not forty). Each op
/// helper returns the name of its output value. Only operators of opset 17 are emitted.
/// </summary>
internal sealed class GraphBuilder
{
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);

    /// <summary>The graph being built.</summary>
    public OnnxGraph Graph { get; } = new();

    /// <summary>A fresh value name starting with <paramref name="hint"/>.</summary>
    public string Fresh(string hint)
    {
        int n = _counters.TryGetValue(hint, out int c) ? c + 1 : 0;
        _counters[hint] = n;
        return n == 0 ? hint : $"{hint}_{n}";
    }

    /// <summary>Adds a node; returns its outputs (named <paramref name="outputs"/> when given, else fresh).</summary>
    public string[] Node(string opType, string[] inputs, int outputCount = 1, string[]? outputs = null, string? hint = null, params OnnxAttribute[] attributes)
    {
        string baseName = hint ?? opType;
        outputs ??= Enumerable.Range(0, outputCount).Select(_ => Fresh(baseName)).ToArray();
        var node = new OnnxNode { OpType = opType, Name = Fresh($"node/{baseName}") };
        node.Inputs.AddRange(inputs);
        node.Outputs.AddRange(outputs);
        node.Attributes.AddRange(attributes);
        Graph.Nodes.Add(node);
        return outputs;
    }

    /// <summary>A single-output node.</summary>
    public string Op(string opType, string hint, params string[] inputs) => Node(opType, inputs, hint: hint)[0];

    /// <summary>A single-output node with attributes.</summary>
    public string Op(string opType, string hint, string[] inputs, params OnnxAttribute[] attributes) =>
        Node(opType, inputs, hint: hint, attributes: attributes)[0];

    /// <summary>Adds an initializer under its own name and returns the name.</summary>
    public string Initializer(OnnxTensor tensor)
    {
        Graph.Initializers.Add(tensor);
        return tensor.Name;
    }

    /// <summary>A float32 scalar constant (shared by value).</summary>
    public string Scalar(float value) => Constant($"const.f32.{value:R}", () => OnnxTensor.FromFloats("", [], [value]));

    /// <summary>An int64 scalar constant (shared by value).</summary>
    public string ScalarInt(long value) => Constant($"const.i64.{value}", () => OnnxTensor.FromInt64("", [], [value]));

    /// <summary>A 1-D int64 constant such as a Reshape shape or Unsqueeze axes (shared by value).</summary>
    public string Ints(params long[] values) => Constant($"const.i64s.{string.Join("_", values)}", () => OnnxTensor.FromInt64("", [values.Length], values));

    private string Constant(string name, Func<OnnxTensor> make)
    {
        if (_constants.TryGetValue(name, out var existing)) return existing;
        var t = make();
        Initializer(new OnnxTensor(name, t.DataType, t.Dims, t.RawData));
        _constants[name] = name;
        return name;
    }

    /// <summary>Declares a graph input.</summary>
    public string Input(string name, OnnxDataType type, params OnnxDim[] shape)
    {
        Graph.Inputs.Add(new OnnxValueInfo { Name = name, ElemType = type, Shape = [.. shape] });
        return name;
    }

    /// <summary>Declares a graph output (the value must be produced under this name).</summary>
    public void Output(string name, OnnxDataType type, params OnnxDim[] shape) =>
        Graph.Outputs.Add(new OnnxValueInfo { Name = name, ElemType = type, Shape = [.. shape] });

    // ---- thin op helpers (shapes in comments are the usual ones; all broadcast per ONNX rules) ----

    /// <summary>a + b.</summary>
    public string Add(string a, string b, string hint = "add") => Op("Add", hint, a, b);
    /// <summary>a * b.</summary>
    public string Mul(string a, string b, string hint = "mul") => Op("Mul", hint, a, b);
    /// <summary>a @ b (batched over leading dims).</summary>
    public string MatMul(string a, string b, string hint = "matmul") => Op("MatMul", hint, a, b);
    /// <summary>Reshape; a 0 in <paramref name="shape"/> copies the input dim, -1 infers one dim.</summary>
    public string Reshape(string x, string hint, params long[] shape) => Op("Reshape", hint, x, Ints(shape));
    /// <summary>Transpose by <paramref name="perm"/>.</summary>
    public string Transpose(string x, string hint, params long[] perm) =>
        Op("Transpose", hint, [x], OnnxAttribute.IntList("perm", perm));
    /// <summary>Concat along <paramref name="axis"/>; the output gets <paramref name="output"/> as name when given.</summary>
    public string Concat(string[] inputs, long axis, string? output = null, string hint = "concat") =>
        Node("Concat", inputs, outputs: output is null ? null : [output], hint: hint, attributes: OnnxAttribute.Int("axis", axis))[0];
    /// <summary>Equal split of <paramref name="x"/> along <paramref name="axis"/> into <paramref name="parts"/> outputs.</summary>
    public string[] Split(string x, long axis, int parts, string hint) =>
        Node("Split", [x], outputCount: parts, hint: hint, attributes: OnnxAttribute.Int("axis", axis));
    /// <summary>LayerNormalization over the last axis (opset 17), biased variance.</summary>
    public string LayerNorm(string x, string weight, string bias, float eps, string hint) =>
        Op("LayerNormalization", hint, [x, weight, bias], OnnxAttribute.Int("axis", -1), OnnxAttribute.Float("epsilon", eps));
    /// <summary>Softmax over the last axis.</summary>
    public string Softmax(string x, string hint) => Op("Softmax", hint, [x], OnnxAttribute.Int("axis", -1));

    /// <summary>Exact GELU composed as 0.5 * x * (1 + erf(x / sqrt 2)), the pattern ONNX Runtime fuses into one Gelu kernel.</summary>
    public string Gelu(string x, string hint)
    {
        string erf = Op("Erf", $"{hint}.erf", Op("Div", $"{hint}.div", x, Scalar(MathF.Sqrt(2f))));
        string onePlus = Add(erf, Scalar(1f), $"{hint}.add1");
        return Mul(Mul(x, onePlus, $"{hint}.mulx"), Scalar(0.5f), hint);
    }
}
