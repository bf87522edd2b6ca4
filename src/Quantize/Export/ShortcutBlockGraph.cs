using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Quantize;

/// <summary>
/// The final block of the shortcut GPT as ONNX nodes (PAPER.md; docs/FORMAT.md section 4):
/// <code>
/// z_j      = F_j(LN_j(x_{S[j]}))                       for j = 0..|S|-1          # [b, T, d]
/// memory   = stack_j z_j, position-major (e = tau*|S| + j)                         # [b, T*|S|, d]
/// k, v     = split_heads(memory Wkv + b)                                           # [b, H, T*|S|, hd]
/// K, V     = concat(past_shortcut_key/value, k/v) = present_shortcut_key/value    # [b, H, (P+T)*|S|, hd]
/// q        = split_heads(LN_q(x) Wq + b)                                           # [b, H, T, hd]
/// h        = x + merge_heads(softmax(q K^T / sqrt(hd) + mask) V) Wproj + b
///            mask[t, e] = 0 if floor(e / |S|) &lt;= P + t else -1e30                 # block-causal
/// h        = h + MLP(LN2(h))
/// </code>
/// Only the new positions' features are computed: the cache already holds the keys and values of
/// every past (layer, position) entry, so a decode step never recomputes a past position.
/// </summary>
internal static class ShortcutBlockGraph
{
    /// <summary>Emits the block on <paramref name="x"/> (= x_{L-1}) given the ordinary blocks' outputs
    /// (<paramref name="layerOutputs"/>[i] = x_{i+1}); returns h <c>[b, T, d]</c>.</summary>
    public static string Emit(ForwardGraph f, string x, IReadOnlyList<string> layerOutputs)
    {
        var g = f.G;
        var lin = f.Lin;
        var c = f.Config;
        int S = c.TapCount;
        string s = TensorNames.Shortcut;

        var features = new string[S];
        for (int j = 0; j < S; j++)
        {
            string p = TensorNames.Feature(j);
            string a = g.LayerNorm(layerOutputs[ShortcutMemory.SourceBlock(c, j)], lin.Float($"{p}.ln.weight"), lin.Float($"{p}.ln.bias"), c.LayerNormEps, $"{p}.ln");
            string z = lin.Linear(g.Gelu(lin.Linear(a, $"{p}.fc"), $"{p}.gelu"), $"{p}.proj");     // [b, T, d]
            features[j] = z;
        }
        // Concatenating along the feature axis and reshaping puts z_j[tau] at row tau*S + j: position-major
        // (ShortcutMemory.Entry); the mask below is ShortcutMemory.PositionOf as a Div.
        string stacked = S == 1 ? features[0] : g.Concat(features, 2, hint: "shortcut.stack");        // [b, T, S*d]
        string memory = g.Reshape(stacked, "shortcut.memory", 0, -1, c.Dim);                          // [b, T*S, d]

        var kv = f.SplitHeads(lin.Linear(memory, $"{s}.attn.kv"), 2, $"{s}.attn.kv");               // 2 x [b, H, T*S, hd]
        string k = g.Concat([OnnxNames.PastShortcutKey, kv[0]], 2, OnnxNames.PresentShortcutKey);
        string v = g.Concat([OnnxNames.PastShortcutValue, kv[1]], 2, OnnxNames.PresentShortcutValue);
        f.DeclareCache(OnnxNames.PresentShortcutKey, "present_entries");
        f.DeclareCache(OnnxNames.PresentShortcutValue, "present_entries");

        // Entry e belongs to position floor(e / S); query at absolute position P+t sees it iff that is <= P+t.
        string entries = g.Mul(f.Total, g.ScalarInt(S), "shortcut.entries");
        string entryPos = g.Op("Div", "shortcut.entry_pos", g.Op("Range", "shortcut.entry", g.ScalarInt(0), entries, g.ScalarInt(1)), g.ScalarInt(S));
        string mask = f.MaskWhere(g.Op("LessOrEqual", "shortcut.visible", entryPos, f.QueryPositions), "shortcut.mask");   // [T, (P+T)*S]

        string a0 = g.LayerNorm(x, lin.Float($"{s}.ln_q.weight"), lin.Float($"{s}.ln_q.bias"), c.LayerNormEps, $"{s}.ln_q");
        string q = f.SplitHeads(lin.Linear(a0, $"{s}.attn.q"), 1, $"{s}.attn.q")[0];                // [b, H, T, hd]
        string o = f.Attention(q, k, v, mask, $"{s}.attn");
        string h = g.Add(x, lin.Linear(o, $"{s}.attn.proj"), $"{s}.res1");
        return g.Add(h, f.Mlp(h, $"{s}.ln2", $"{s}.mlp"), $"{s}.res2");
    }
}
