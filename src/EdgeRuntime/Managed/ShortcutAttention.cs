using System.Numerics.Tensors;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// The paper's novel piece: the final block attends over the features of every tapped layer
/// (PAPER.md, FORMAT.md section 4). For a token at position p:
/// <code>
/// z_j = Lin_proj_j(GELU(Lin_fc_j(LN_j(x_{S[j]}))))          # feature of tap j, [d]
/// (k, v)[e = p |S| + j] = split(Lin_kv(z_j))                  # appended to the shortcut cache
/// q = Lin_q(LN_q(x_{L-1})) / sqrt(hd)
/// o_h = sum_{e &lt; (p+1)|S|} softmax_e(q_h . k_h[e]) v_h[e]       # every cached entry has tau &lt;= p
/// h = x_{L-1} + Lin_proj(concat_h o_h);  h += MLP(LN2(h))
/// </code>
/// <see cref="AppendFeature"/> runs when tapped layer S[j] has produced x at position p (so x_k
/// never needs to be stored); <see cref="Forward"/> runs after the last ordinary block, and only for
/// the positions whose logits are wanted: the cache entries alone carry earlier positions forward.
/// </summary>
internal static class ShortcutAttention
{
    /// <summary>Computes z_j from <see cref="RunState.X"/> (the output of layer S[j]) and appends its
    /// key and value as shortcut cache entry <c>p |S| + j</c>.</summary>
    public static void AppendFeature(FeatureWeights f, ShortcutWeights w, RunState s, int j, int p, int tapCount, int heads, float eps)
    {
        int d = s.X.Length, hd = d / heads, capacity = s.ShortcutCapacity, e = p * tapCount + j;
        LayerNorm.Apply(s.X, f.Ln.Weight, f.Ln.Bias, eps, s.Normed);
        var hidden = s.Hidden.AsSpan(0, f.Fc.Rows);
        f.Fc.Apply(s.Normed, hidden, s.Quantized, s.Parallel);
        Gelu.Apply(hidden);
        f.Proj.Apply(hidden, s.Branch, s.Quantized, s.Parallel);          // z_j
        w.Kv.Apply(s.Branch, s.Kv, s.Quantized, s.Parallel);              // [k; v]

        // Keys transposed [H, hd, capacity] (row h*hd + c, column e); values [H, capacity, hd].
        var k = s.Kv.AsSpan(0, d);
        for (int c = 0; c < d; c++) s.ShortcutKeys[(long)c * capacity + e] = k[c];
        for (int h = 0; h < heads; h++)
            s.Kv.AsSpan(d + h * hd, hd).CopyTo(s.ShortcutValues.AsSpan((h * capacity + e) * hd, hd));
    }

    /// <summary>Runs the final block on <see cref="RunState.X"/> in place for the token at <paramref name="p"/>,
    /// attending over the first <c>(p + 1) |S|</c> shortcut cache entries.</summary>
    public static void Forward(ShortcutWeights w, RunState s, int p, int tapCount, int heads, float eps)
    {
        int d = s.X.Length, hd = d / heads, capacity = s.ShortcutCapacity;
        LayerNorm.Apply(s.X, w.LnQ.Weight, w.LnQ.Bias, eps, s.Normed);
        var q = s.Qkv.AsSpan(0, d);
        w.Q.Apply(s.Normed, q, s.Quantized, s.Parallel);
        TensorPrimitives.Multiply(q, 1f / MathF.Sqrt(hd), q);
        var scores = s.Scores.AsSpan(0, (p + 1) * tapCount);
        for (int h = 0; h < heads; h++)
            AttentionKernels.Attend(q.Slice(h * hd, hd), s.ShortcutKeys.AsSpan(h * hd * capacity, hd * capacity), capacity,
                s.ShortcutValues.AsSpan(h * capacity * hd, capacity * hd), scores, s.Attention.AsSpan(h * hd, hd));
        w.AttnProj.Apply(s.Attention, s.Branch, s.Quantized, s.Parallel);
        TensorPrimitives.Add(s.X, s.Branch, s.X);

        TransformerBlock.Mlp(w.Ln2, w.Fc, w.Proj, s, eps);
    }
}
