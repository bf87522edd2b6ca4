using System.Numerics.Tensors;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// One ordinary pre-LN GPT block for one new token at position p, with its key/value cache
/// (FORMAT.md section 4):
/// <code>
/// q, k, v = split(Lin_qkv(LN1(x)))                       # each [d]; head h = columns h*hd..(h+1)*hd
/// cache[p] = (k, v);  o_h = softmax_u(q_h . k_h[u] / sqrt(hd), u &lt;= p) v_h[u]
/// x += Lin_proj(concat_h o_h);  x += Lin_mlp.proj(GELU(Lin_mlp.fc(LN2(x))))
/// </code>
/// A single-token step needs no mask: every cached position is &lt;= p.
/// </summary>
internal static class TransformerBlock
{
    /// <summary>Runs block <paramref name="index"/> on <see cref="RunState.X"/> in place for the token at <paramref name="p"/>.</summary>
    public static void Forward(BlockWeights w, RunState s, int index, int p, int heads, int contextLength, float eps)
    {
        int d = s.X.Length, hd = d / heads, n = contextLength;
        LayerNorm.Apply(s.X, w.Ln1.Weight, w.Ln1.Bias, eps, s.Normed);
        w.Qkv.Apply(s.Normed, s.Qkv, s.Quantized, s.Parallel);
        var q = s.Qkv.AsSpan(0, d);
        var k = s.Qkv.AsSpan(d, d);
        var v = s.Qkv.AsSpan(2 * d, d);
        float[] keys = s.KeyCache[index], values = s.ValueCache[index];

        // Append position p: keys transposed [H, hd, n] (row h*hd + c, column p), values [H, n, hd].
        for (int c = 0; c < d; c++) keys[c * n + p] = k[c];
        for (int h = 0; h < heads; h++) v.Slice(h * hd, hd).CopyTo(values.AsSpan((h * n + p) * hd, hd));

        TensorPrimitives.Multiply(q, 1f / MathF.Sqrt(hd), q);
        var scores = s.Scores.AsSpan(0, p + 1);
        for (int h = 0; h < heads; h++)
            AttentionKernels.Attend(q.Slice(h * hd, hd), keys.AsSpan(h * hd * n, hd * n), n,
                values.AsSpan(h * n * hd, n * hd), scores, s.Attention.AsSpan(h * hd, hd));
        w.AttnProj.Apply(s.Attention, s.Branch, s.Quantized, s.Parallel);
        TensorPrimitives.Add(s.X, s.Branch, s.X);

        Mlp(w.Ln2, w.Fc, w.Proj, s, eps);
    }

    /// <summary><c>x += Proj(GELU(Fc(LN(x))))</c>, the MLP half of a block (also the shortcut block's).</summary>
    public static void Mlp(NormWeights ln, ManagedLinear fc, ManagedLinear proj, RunState s, float eps)
    {
        LayerNorm.Apply(s.X, ln.Weight, ln.Bias, eps, s.Normed);
        var hidden = s.Hidden.AsSpan(0, fc.Rows);
        fc.Apply(s.Normed, hidden, s.Quantized, s.Parallel);
        Gelu.Apply(hidden);
        proj.Apply(hidden, s.Branch, s.Quantized, s.Parallel);
        TensorPrimitives.Add(s.X, s.Branch, s.X);
    }
}
