using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Quantize;

/// <summary>
/// Emits every Linear layer of the checkpoint into the graph in the chosen precision and records the
/// per-tensor reconstruction error. A checkpoint weight <c>X.weight</c> <c>[out, in]</c> becomes
/// <list type="bullet">
/// <item>int8: <c>X.weight_q</c> int8 <c>[in, out]</c> and <c>X.weight_scale</c> float <c>[out]</c>
/// (<see cref="Int8Quantization"/>), used as <c>MatMul(x, DequantizeLinear(q, scale, axis=1))</c>.
/// ONNX Runtime keeps the weight int8 and runs this pair as one int8-weight kernel.</item>
/// <item>fp32: <c>X.weight_t</c> float <c>[in, out]</c>, used as <c>MatMul(x, w_t)</c>.</item>
/// </list>
/// Weights are stored transposed so MatMul needs no Transpose at run time.
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

    /// <summary>The float <c>[in, out]</c> value of weight <paramref name="name"/> (<c>[out, in]</c> data in <paramref name="w"/>).</summary>
    private string Weight(string name, NamedTensor w)
    {
        if (_weights.TryGetValue(name, out var v)) return v;
        int rows = w.Shape[0], cols = w.Shape[1];            // rows = out, cols = in
        string stem = name[..^".weight".Length];
        if (precision == ExportPrecision.Fp32)
        {
            var t = new float[w.Data.Length];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) t[c * rows + r] = w.Data[r * cols + c];
            return _weights[name] = g.Initializer(OnnxTensor.FromFloats($"{stem}.weight_t", [cols, rows], t));
        }

        var q = new sbyte[w.Data.Length];
        var scales = new float[rows];
        Int8Quantization.QuantizeRows(w.Data, rows, cols, q, scales);
        var back = new float[w.Data.Length];
        Int8Quantization.DequantizeRows(q, scales, rows, cols, back);
        Errors.Add(WeightError.Measure(name, w.Shape, w.Data, back));

        var qt = new sbyte[q.Length];                          // [in, out]
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) qt[c * rows + r] = q[r * cols + c];
        string qName = g.Initializer(OnnxTensor.FromInt8($"{stem}.weight_q", [cols, rows], qt));
        string sName = g.Initializer(OnnxTensor.FromFloats($"{stem}.weight_scale", [rows], scales));
        // axis=1: one scale per column of [in, out], i.e. per output channel; no zero point (symmetric).
        return _weights[name] = g.Op("DequantizeLinear", $"{stem}.weight", [qName, sName], OnnxAttribute.Int("axis", 1));
    }
}
