using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Quantize;

/// <summary>
/// Builds the ONNX graph of docs/FORMAT.md section 4 for T &gt;= 1 new tokens after P &gt;= 0 cached
/// positions (section 5 names the inputs and outputs). One graph serves prefill and decode:
/// <code>
/// P = shape(past_key.0)[2], T = shape(input_ids)[1]
/// x = tok_emb[input_ids] + pos_emb[P..P+T-1]                                  # [b, T, d]
/// block i: q,k,v = split_heads(LN1(x) Wqkv + b)                               # each [b, H, T, hd]
///          K = concat(past_key.i, k), V = concat(past_value.i, v)             # [b, H, P+T, hd] = present
///          x += merge_heads(softmax(q K^T / sqrt(hd) + mask) V) Wproj + b     # mask[t, u] = 0 if u &lt;= P+t else -1e30
///          x += MLP(LN2(x))
/// shortcut model: final block of <see cref="ShortcutBlockGraph"/>; logits = LN_f(h) head   # [b, T, V]
/// </code>
/// The masks are built once from shapes (Range/LessOrEqual/Where) and shared by every block.
/// </summary>
internal sealed class ForwardGraph
{
    /// <summary>Additive mask value for hidden keys: finite (no inf - inf NaNs), and exp() of it is exactly 0.</summary>
    public const float MaskedScore = -1e30f;

    private readonly GraphBuilder _g = new();
    private readonly ModelConfig _c;
    private readonly LinearEmitter _lin;
    private readonly IReadOnlyDictionary<string, NamedTensor> _w;

    private ForwardGraph(ModelConfig config, IReadOnlyDictionary<string, NamedTensor> weights, ExportPrecision precision)
    {
        _c = config;
        _w = weights;
        _lin = new LinearEmitter(_g, weights, precision);
    }

    /// <summary>Builds the graph; returns it with the int8 reconstruction errors (empty for fp32).</summary>
    public static (OnnxGraph Graph, List<WeightError> Errors) Build(ModelConfig config, IReadOnlyDictionary<string, NamedTensor> weights, ExportPrecision precision)
    {
        var f = new ForwardGraph(config, weights, precision);
        f.Emit();
        f._g.Graph.Name = config.IsShortcut ? "edgeshortcut_shortcut_gpt" : "edgeshortcut_gpt";
        return (f._g.Graph, f._lin.Errors);
    }

    /// <summary>The builder (for <see cref="ShortcutBlockGraph"/>).</summary>
    internal GraphBuilder G => _g;
    /// <summary>The Linear emitter (for <see cref="ShortcutBlockGraph"/>).</summary>
    internal LinearEmitter Lin => _lin;
    /// <summary>The model config.</summary>
    internal ModelConfig Config => _c;
    /// <summary>P, the number of cached positions, as an int64 scalar.</summary>
    internal string Past { get; private set; } = "";
    /// <summary>P + T as an int64 scalar.</summary>
    internal string Total { get; private set; } = "";
    /// <summary>Absolute positions of the new tokens, P..P+T-1, as an int64 column <c>[T, 1]</c>.</summary>
    internal string QueryPositions { get; private set; } = "";

    private void Emit()
    {
        int B = _c.SelfAttentionBlocks, H = _c.Heads, hd = _c.HeadDim;
        string ids = _g.Input(OnnxNames.InputIds, OnnxDataType.Int64, "batch", "seq");
        for (int i = 0; i < B; i++)
        {
            _g.Input(OnnxNames.PastKey(i), OnnxDataType.Float, "batch", H, "past", hd);
            _g.Input(OnnxNames.PastValue(i), OnnxDataType.Float, "batch", H, "past", hd);
        }
        if (_c.IsShortcut)
        {
            _g.Input(OnnxNames.PastShortcutKey, OnnxDataType.Float, "batch", H, "past_entries", hd);
            _g.Input(OnnxNames.PastShortcutValue, OnnxDataType.Float, "batch", H, "past_entries", hd);
        }

        // Positions and the causal mask, from shapes only.
        Past = _g.Op("Gather", "past_len", [_g.Op("Shape", "past_shape", OnnxNames.PastKey(0)), _g.ScalarInt(2)], OnnxAttribute.Int("axis", 0));
        string newLen = _g.Op("Gather", "new_len", [_g.Op("Shape", "ids_shape", ids), _g.ScalarInt(1)], OnnxAttribute.Int("axis", 0));
        Total = _g.Add(Past, newLen, "total_len");
        string qpos = _g.Op("Range", "query_pos", Past, Total, _g.ScalarInt(1));                     // [T]
        QueryPositions = _g.Op("Unsqueeze", "query_pos_col", qpos, _g.Ints(1));                    // [T, 1]
        string kpos = _g.Op("Range", "key_pos", _g.ScalarInt(0), Total, _g.ScalarInt(1));          // [P+T]
        string selfMask = MaskWhere(_g.Op("LessOrEqual", "self_visible", kpos, QueryPositions), "self_mask");   // [T, P+T]

        string tok = _g.Op("Gather", "tok", [_lin.Float(TensorNames.TokenEmbedding), ids], OnnxAttribute.Int("axis", 0));   // [b, T, d]
        string pos = _g.Op("Gather", "pos", [_lin.Float(TensorNames.PositionEmbedding), qpos], OnnxAttribute.Int("axis", 0)); // [T, d]
        string x = _g.Add(tok, pos, "x0");

        var layerOutputs = new List<string>();
        for (int i = 0; i < B; i++)
        {
            x = Block(i, x, selfMask);
            layerOutputs.Add(x);
        }
        string h = _c.IsShortcut ? ShortcutBlockGraph.Emit(this, x, layerOutputs) : x;

        string n = _g.LayerNorm(h, _lin.Float($"{TensorNames.FinalNorm}.weight"), _lin.Float($"{TensorNames.FinalNorm}.bias"), _c.LayerNormEps, "ln_f");
        var head = _c.TiedEmbeddings ? _w[TensorNames.TokenEmbedding] : _w[TensorNames.Head];
        string logits = _lin.LinearNoBias(n, TensorNames.Head, head);
        _g.Node("Identity", [logits], outputs: [OnnxNames.Logits], hint: "logits");
        _g.Output(OnnxNames.Logits, OnnxDataType.Float, "batch", "seq", _c.VocabSize);
    }

    /// <summary>0 where <paramref name="visible"/> is true, <see cref="MaskedScore"/> elsewhere.</summary>
    internal string MaskWhere(string visible, string hint) =>
        _g.Op("Where", hint, visible, _g.Scalar(0f), _g.Scalar(MaskedScore));

    private string Block(int i, string x, string mask)
    {
        string p = TensorNames.Block(i);
        string a = _g.LayerNorm(x, _lin.Float($"{p}.ln1.weight"), _lin.Float($"{p}.ln1.bias"), _c.LayerNormEps, $"{p}.ln1");
        string qkv = _lin.Linear(a, $"{p}.attn.qkv");                                             // [b, T, 3d]
        var parts = SplitHeads(qkv, 3, $"{p}.attn");                                              // 3 x [b, H, T, hd]
        string k = _g.Concat([OnnxNames.PastKey(i), parts[1]], 2, OnnxNames.PresentKey(i));                // [b, H, P+T, hd]
        string v = _g.Concat([OnnxNames.PastValue(i), parts[2]], 2, OnnxNames.PresentValue(i));
        DeclareCache(OnnxNames.PresentKey(i), "present");
        DeclareCache(OnnxNames.PresentValue(i), "present");
        string o = Attention(parts[0], k, v, mask, $"{p}.attn");                                  // [b, T, d]
        x = _g.Add(x, _lin.Linear(o, $"{p}.attn.proj"), $"{p}.res1");
        return _g.Add(x, Mlp(x, $"{p}.ln2", $"{p}.mlp"), $"{p}.res2");
    }

    /// <summary>Declares a present-cache output <c>[batch, H, <paramref name="length"/>, hd]</c>.</summary>
    internal void DeclareCache(string name, string length) =>
        _g.Output(name, OnnxDataType.Float, "batch", _c.Heads, length, _c.HeadDim);

    /// <summary>MLP(LN(x)) = proj(GELU(fc(LN(x)))).</summary>
    internal string Mlp(string x, string norm, string mlp)
    {
        string a = _g.LayerNorm(x, _lin.Float($"{norm}.weight"), _lin.Float($"{norm}.bias"), _c.LayerNormEps, norm);
        return _lin.Linear(_g.Gelu(_lin.Linear(a, $"{mlp}.fc"), $"{mlp}.gelu"), $"{mlp}.proj");
    }

    /// <summary>[b, N, parts*d] -> parts x [b, H, N, hd]: one Reshape, one Transpose, one Split.</summary>
    internal string[] SplitHeads(string x, int parts, string hint)
    {
        string r = _g.Reshape(x, $"{hint}.heads", 0, 0, parts * _c.Heads, _c.HeadDim);          // [b, N, parts*H, hd]
        string t = _g.Transpose(r, $"{hint}.heads_t", 0, 2, 1, 3);                                // [b, parts*H, N, hd]
        return parts == 1 ? [t] : _g.Split(t, 1, parts, $"{hint}.split");
    }

    /// <summary>Scaled dot-product attention of q <c>[b, H, T, hd]</c> over K, V <c>[b, H, N, hd]</c>
    /// with an additive mask <c>[T, N]</c>; returns the merged heads <c>[b, T, d]</c>.</summary>
    internal string Attention(string q, string k, string v, string mask, string hint)
    {
        string qs = _g.Mul(q, _g.Scalar(1f / MathF.Sqrt(_c.HeadDim)), $"{hint}.q_scaled");
        // ONNX Runtime fuses Transpose + MatMul into one MatMul with a transposed operand (no copy of K).
        string kt = _g.Transpose(k, $"{hint}.k_t", 0, 1, 3, 2);                                    // [b, H, hd, N]
        string scores = _g.Add(_g.MatMul(qs, kt, $"{hint}.scores"), mask, $"{hint}.masked");       // [b, H, T, N]
        string o = _g.MatMul(_g.Softmax(scores, $"{hint}.probs"), v, $"{hint}.o");                 // [b, H, T, hd]
        string merged = _g.Transpose(o, $"{hint}.o_t", 0, 2, 1, 3);                                // [b, T, H, hd]
        return _g.Reshape(merged, $"{hint}.merged", 0, 0, _c.Dim);
    }
}
