using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Quantize;

/// <summary>
/// Emits every Linear layer of the checkpoint into the graph in the chosen precision and records the
/// per-tensor reconstruction error. The initializers are laid out by <see cref="OnnxLinearWeights"/>
/// (FORMAT.md section 5) and used as <c>MatMul(x, DequantizeLinear(X.weight_q, X.weight_scale, axis=1))</c>
/// (int8; ONNX Runtime keeps the weight int8 and runs the pair as one int8-weight kernel) or
/// <c>MatMul(x, X.weight_t)</c> (fp32). Weights are stored transposed so MatMul needs no Transpose at run time.
/// </summary>
internal sealed class LinearEmitter(GraphBuilder g, IReadOnlyDictionary<string, NamedTensor> tensors, ExportPrecision precision)
{
    private readonly Dictionary<string, string> _weights = new(StringComparer.Ordinal);

    /// <summary>Reconstruction errors of the int8 weights, in emission order (empty for fp32).</summary>
    public List<WeightError> Errors { get; } = [];

    /// <summary>The precision weights are stored in.</summary>
    public ExportPrecision Precision => precision;

    /// <summary><c>x W^T + b</c> for the Linear <paramref name="prefix"/> (its <c>.weight</c> and <c>.bias</c>).
    /// x is <c>[..., in]</c>, the result <c>[..., out]</c>.</summary>
    public string Linear(string x, string prefix)
    {
        string y = g.MatMul(x, Weight($"{prefix}.weight", tensors[$"{prefix}.weight"]), $"{prefix}.matmul");
        return g.Add(y, Bias($"{prefix}.bias"), prefix);
    }

    /// <summary><c>x W^T</c> with no bias, for the output head whose weight comes from <paramref name="source"/>
    /// (the token embedding when tied) but is stored as <paramref name="name"/>.</summary>
    public string LinearNoBias(string x, string name, NamedTensor source) =>
        g.MatMul(x, Weight(name, source), name.Replace(".weight", ""));

    /// <summary>A float32 checkpoint tensor (bias, LayerNorm, embedding) as an initializer under its own name.</summary>
    public string Float(string name)
    {
        if (_weights.TryGetValue(name, out var v)) return v;
        var t = tensors[name];
        return _weights[name] = g.Initializer(OnnxTensor.FromFloats(name, [.. t.Shape.Select(s => (long)s)], t.Data));
    }

    private string Bias(string name) => Float(name);

    /// <summary>The float <c>[in, out]</c> value of weight <paramref name="name"/> (<c>[out, in]</c> data in <paramref name="w"/>),
    /// stored as <see cref="OnnxLinearWeights"/> lays it out.</summary>
    private string Weight(string name, NamedTensor w)
    {
        if (_weights.TryGetValue(name, out var v)) return v;
        string stem = OnnxNames.LinearStem(name);
        var (initializers, dequantized) = OnnxLinearWeights.Linear(stem, w, precision == ExportPrecision.Int8);
        foreach (var t in initializers) g.Initializer(t);
        if (dequantized is null) return _weights[name] = OnnxNames.TransposedWeight(stem);

        Errors.Add(WeightError.Measure(name, w.Shape, w.Data, dequantized));
        // axis=1: one scale per column of [in, out], i.e. per output channel; no zero point (symmetric).
        return _weights[name] = g.Op("DequantizeLinear", $"{stem}.weight",
            [OnnxNames.QuantizedWeight(stem), OnnxNames.WeightScale(stem)], OnnxAttribute.Int("axis", 1));
    }
}
