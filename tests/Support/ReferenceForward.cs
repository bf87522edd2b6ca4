using EdgeShortcut.Core;

namespace EdgeShortcut.Tests.Support;

/// <summary>
/// A deliberately naive fp32 forward pass of docs/FORMAT.md section 4, written line by line from the
/// equations with plain loops, no caches and no batching. It is the slow, obviously-correct reference
/// that the ONNX graph, the TorchSharp model and the managed engine are compared against.
/// Weights are looked up by their checkpoint names (<see cref="TensorNames"/>), Linear weights in
/// PyTorch layout <c>[out, in]</c>.
/// </summary>
public static class ReferenceForward
{
    /// <summary>Logits <c>[T][V]</c> for token ids at positions 0..T-1 (T &lt;= n_ctx). With
    /// <paramref name="exitDepth"/> e (shortcut models; the exit recipe of docs/FORMAT.md section 4) the
    /// shortcut block is queried from x_e instead of x_{L-1}, and memory entries of taps k &gt; e get zero
    /// attention; null or L-1 is the full model. With <paramref name="positionDepths"/> (adaptive depth, one per
    /// token) token t runs only blocks 1..depth_t (deeper blocks leave its x unchanged, and its keys there
    /// are hidden from every other query), its memory entries of taps &gt; depth_t do not exist, and it is
    /// predicted by the exit head at depth_t.</summary>
    public static float[][] Logits(ModelConfig c, IReadOnlyDictionary<string, NamedTensor> w, IReadOnlyList<int> ids, int? exitDepth = null,
        IReadOnlyList<int>? positionDepths = null)
    {
        int exit = exitDepth ?? c.Layers - 1;
        int[] depths = positionDepths is null ? [.. Enumerable.Repeat(c.SelfAttentionBlocks, ids.Count)] : [.. positionDepths];
        if (exitDepth is not null && (!c.IsShortcut || exit < 1 || exit > c.Layers - 1))
            throw new ArgumentOutOfRangeException(nameof(exitDepth), exit, "an exit needs a shortcut model and a depth in 1..L-1.");
        int T = ids.Count, d = c.Dim;
        if (T < 1 || T > c.ContextLength) throw new ArgumentOutOfRangeException(nameof(ids), $"T = {T} must be in 1..{c.ContextLength}.");
        var tok = w[TensorNames.TokenEmbedding].Data;
        var pos = w[TensorNames.PositionEmbedding].Data;
        var x = new float[T][];
        for (int t = 0; t < T; t++)
        {
            x[t] = new float[d];
            for (int i = 0; i < d; i++) x[t][i] = tok[ids[t] * d + i] + pos[t * d + i];
        }

        var layerOutputs = new List<float[][]>();        // x_1 .. x_B, each [T][d]
        for (int b = 0; b < c.SelfAttentionBlocks; b++)
        {
            string p = TensorNames.Block(b);
            var a = Map(x, r => LayerNorm(r, w, $"{p}.ln1", c.LayerNormEps));
            var qkv = Map(a, r => Linear(r, w, $"{p}.attn.qkv"));              // [T][3d]
            var q = Map(qkv, r => r[..d]);
            var k = Map(qkv, r => r[d..(2 * d)]);
            var v = Map(qkv, r => r[(2 * d)..]);
            // Causal self-attention: query t sees keys u <= t that exist (token u ran this block).
            var o = Attention(c, q, k, v, (t, u) => u <= t && (b < depths[u] || u == t));
            var before = x;
            x = Add(x, Map(o, r => Linear(r, w, $"{p}.attn.proj")));
            x = Add(x, Map(x, r => Mlp(LayerNorm(r, w, $"{p}.ln2", c.LayerNormEps), w, $"{p}.mlp")));
            x = [.. Enumerable.Range(0, T).Select(t => b < depths[t] ? x[t] : before[t])];     // skipped: identity
            layerOutputs.Add(x);
        }

        var h = x;
        if (c.IsShortcut)
        {
            int S = c.TapCount;
            // memory entry e = tau * S + j holds z_j[tau] = F_j(LN_j(x_{S[j]}[tau])).
            var memory = new float[T * S][];
            for (int j = 0; j < S; j++)
            {
                string f = TensorNames.Feature(j);
                var xk = layerOutputs[c.Taps[j] - 1];
                for (int tau = 0; tau < T; tau++)
                {
                    var hidden = Gelu(Linear(LayerNorm(xk[tau], w, $"{f}.ln", c.LayerNormEps), w, $"{f}.fc"));
                    memory[tau * S + j] = Linear(hidden, w, $"{f}.proj");
                }
            }
            string s = TensorNames.Shortcut;
            // x_e; x_{L-1} = x at full depth. Per-position depths: the final x, which skipped blocks left at x_{depth_t}.
            var xe = positionDepths is null ? layerOutputs[exit - 1] : x;
            var q = Map(xe, r => Linear(LayerNorm(r, w, $"{s}.ln_q", c.LayerNormEps), w, $"{s}.attn.q"));
            var kv = Map(memory, r => Linear(r, w, $"{s}.attn.kv"));            // [T*S][2d]
            var k = Map(kv, r => r[..d]);
            var v = Map(kv, r => r[d..]);
            // Block mask: query t sees entry e iff its position tau = e / S is <= t, and (at an exit)
            // its tap S[e % S] is at most the exit depth.
            var o = positionDepths is null
                ? Attention(c, q, k, v, (t, e) => e / S <= t && c.Taps[e % S] <= exit)
                : Attention(c, q, k, v, (t, e) => e / S <= t && c.Taps[e % S] <= depths[t] && c.Taps[e % S] <= depths[e / S]);
            h = Add(xe, Map(o, r => Linear(r, w, $"{s}.attn.proj")));
            h = Add(h, Map(h, r => Mlp(LayerNorm(r, w, $"{s}.ln2", c.LayerNormEps), w, $"{s}.mlp")));
        }

        var head = (c.TiedEmbeddings ? w[TensorNames.TokenEmbedding] : w[TensorNames.Head]).Data;   // [V, d]
        return Map(h, r =>
        {
            var n = LayerNorm(r, w, TensorNames.FinalNorm, c.LayerNormEps);
            var logits = new float[c.VocabSize];
            for (int vIdx = 0; vIdx < c.VocabSize; vIdx++)
            {
                double acc = 0;
                for (int i = 0; i < d; i++) acc += (double)n[i] * head[vIdx * d + i];
                logits[vIdx] = (float)acc;
            }
            return logits;
        });
    }

    /// <summary>Multi-head attention: per head, softmax over visible keys of q.k/sqrt(hd), then the weighted sum of values.</summary>
    private static float[][] Attention(ModelConfig c, float[][] q, float[][] k, float[][] v, Func<int, int, bool> visible)
    {
        int hd = c.HeadDim, d = c.Dim;
        var o = new float[q.Length][];
        for (int t = 0; t < q.Length; t++)
        {
            o[t] = new float[d];
            for (int head = 0; head < c.Heads; head++)
            {
                int off = head * hd;
                var scores = new double[k.Length];
                double max = double.NegativeInfinity;
                for (int u = 0; u < k.Length; u++)
                {
                    if (!visible(t, u)) { scores[u] = double.NegativeInfinity; continue; }
                    double dot = 0;
                    for (int i = 0; i < hd; i++) dot += (double)q[t][off + i] * k[u][off + i];
                    scores[u] = dot / Math.Sqrt(hd);
                    max = Math.Max(max, scores[u]);
                }
                double sum = 0;
                for (int u = 0; u < k.Length; u++) { scores[u] = Math.Exp(scores[u] - max); sum += scores[u]; }
                for (int i = 0; i < hd; i++)
                {
                    double acc = 0;
                    for (int u = 0; u < k.Length; u++) acc += scores[u] / sum * v[u][off + i];
                    o[t][off + i] = (float)acc;
                }
            }
        }
        return o;
    }

    /// <summary>LN(x) = (x - mean) / sqrt(var + eps) * weight + bias, biased variance.</summary>
    private static float[] LayerNorm(float[] x, IReadOnlyDictionary<string, NamedTensor> w, string prefix, float eps)
    {
        var g = w[$"{prefix}.weight"].Data;
        var b = w[$"{prefix}.bias"].Data;
        double mean = x.Average(v => (double)v);
        double var = x.Average(v => (v - mean) * (v - mean));
        double inv = 1 / Math.Sqrt(var + eps);
        return x.Select((v, i) => (float)((v - mean) * inv * g[i] + b[i])).ToArray();
    }

    /// <summary>y = x W^T + b with W <c>[out, in]</c>.</summary>
    private static float[] Linear(float[] x, IReadOnlyDictionary<string, NamedTensor> w, string prefix)
    {
        var W = w[$"{prefix}.weight"];
        var bias = w[$"{prefix}.bias"].Data;
        int outDim = W.Shape[0], inDim = W.Shape[1];
        if (x.Length != inDim) throw new ArgumentException($"{prefix}: input width {x.Length}, weight expects {inDim}.");
        var y = new float[outDim];
        for (int o = 0; o < outDim; o++)
        {
            double acc = bias[o];
            for (int i = 0; i < inDim; i++) acc += (double)x[i] * W.Data[o * inDim + i];
            y[o] = (float)acc;
        }
        return y;
    }

    private static float[] Mlp(float[] x, IReadOnlyDictionary<string, NamedTensor> w, string prefix) =>
        Linear(Gelu(Linear(x, w, $"{prefix}.fc")), w, $"{prefix}.proj");

    /// <summary>Exact GELU: 0.5 x (1 + erf(x / sqrt 2)).</summary>
    private static float[] Gelu(float[] x) => x.Select(v => (float)(0.5 * v * (1 + Erf(v / Math.Sqrt(2))))).ToArray();

    /// <summary>erf to ~1e-15 by its Taylor series (|x| &lt; 3) or the continued fraction of erfc (|x| &gt;= 3).</summary>
    internal static double Erf(double x)
    {
        double ax = Math.Abs(x);
        if (ax >= 6) return Math.Sign(x);
        if (ax < 3)
        {
            // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-17 * Math.Abs(sum); n++)
            {
                term *= -x2 / n;
                sum += term / (2 * n + 1);
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), evaluated bottom-up.
        double f = ax;
        for (int n = 60; n >= 1; n--) f = ax + n / 2.0 / f;
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        return Math.Sign(x) * (1 - erfc);
    }

    private static float[][] Map(float[][] rows, Func<float[], float[]> f) => rows.Select(f).ToArray();

    private static float[][] Add(float[][] a, float[][] b) =>
        a.Select((r, t) => r.Select((v, i) => v + b[t][i]).ToArray()).ToArray();
}
