using EdgeShortcut.Core;

namespace EdgeShortcut.Tests.Trainer;

/// <summary>
/// docs/FORMAT.md section 4 written out with plain loops in double precision, independent of
/// TorchSharp: the hand-computed reference the module is checked against. Shapes in comments are
/// row-major arrays (x[T, d] is x[t * d + c]).
/// </summary>
internal static class ReferenceForward
{
    /// <summary>Logits [T, V] for one sequence of ids.</summary>
    public static double[] Logits(ModelConfig c, IReadOnlyDictionary<string, NamedTensor> w, int[] ids)
    {
        int t = ids.Length, d = c.Dim;
        var x = new double[t * d];                                               // [T, d]
        for (int p = 0; p < t; p++)
            for (int k = 0; k < d; k++)
                x[p * d + k] = w["tok_emb.weight"].Data[ids[p] * d + k] + w["pos_emb.weight"].Data[p * d + k];

        var tapped = new List<double[]>();
        for (int i = 0; i < c.SelfAttentionBlocks; i++)
        {
            string b = $"blocks.{i}";
            var qkv = Linear(LayerNorm(x, w, $"{b}.ln1", c), w, $"{b}.attn.qkv", t);   // [T, 3d]
            var q = Slice(qkv, t, 3 * d, 0, d); var k = Slice(qkv, t, 3 * d, d, d); var v = Slice(qkv, t, 3 * d, 2 * d, d);
            var o = Attention(q, k, v, t, t, c.Heads, d, (query, key) => key <= query);
            x = Add(x, Linear(o, w, $"{b}.attn.proj", t));
            x = Add(x, Mlp(LayerNorm(x, w, $"{b}.ln2", c), w, $"{b}.mlp", t));
            if (c.IsShortcut && c.Taps.Contains(i + 1)) tapped.Add(x);
        }
        var h = x;
        if (c.IsShortcut)
        {
            int s = c.TapCount;
            var memory = new double[t * s * d];                                  // [T*|S|, d], e = tau*|S| + j
            for (int j = 0; j < s; j++)
            {
                string f = $"features.{j}";
                var z = Linear(Gelu(Linear(LayerNorm(tapped[j], w, $"{f}.ln", c), w, $"{f}.fc", t)), w, $"{f}.proj", t);
                for (int tau = 0; tau < t; tau++) Array.Copy(z, tau * d, memory, (tau * s + j) * d, d);
            }
            var q = Linear(LayerNorm(x, w, "shortcut.ln_q", c), w, "shortcut.attn.q", t);
            var kv = Linear(memory, w, "shortcut.attn.kv", t * s);                // [T*|S|, 2d]
            var o = Attention(q, Slice(kv, t * s, 2 * d, 0, d), Slice(kv, t * s, 2 * d, d, d), t, t * s, c.Heads, d,
                (query, entry) => entry / s <= query);
            h = Add(x, Linear(o, w, "shortcut.attn.proj", t));
            h = Add(h, Mlp(LayerNorm(h, w, "shortcut.ln2", c), w, "shortcut.mlp", t));
        }
        var n = LayerNorm(h, w, "ln_f", c);
        var head = c.TiedEmbeddings ? w["tok_emb.weight"].Data : w["head.weight"].Data;   // [V, d]
        var logits = new double[t * c.VocabSize];
        for (int p = 0; p < t; p++)
            for (int vv = 0; vv < c.VocabSize; vv++)
            {
                double acc = 0;
                for (int k = 0; k < d; k++) acc += n[p * d + k] * head[vv * d + k];
                logits[p * c.VocabSize + vv] = acc;
            }
        return logits;
    }

    private static double[] LayerNorm(double[] x, IReadOnlyDictionary<string, NamedTensor> w, string p, ModelConfig c)
    {
        int d = c.Dim, t = x.Length / d;
        var g = w[$"{p}.weight"].Data; var b = w[$"{p}.bias"].Data;
        var y = new double[x.Length];
        for (int r = 0; r < t; r++)
        {
            double mean = 0, var = 0;
            for (int k = 0; k < d; k++) mean += x[r * d + k];
            mean /= d;
            for (int k = 0; k < d; k++) var += (x[r * d + k] - mean) * (x[r * d + k] - mean);
            var /= d;                                                             // biased variance
            for (int k = 0; k < d; k++) y[r * d + k] = (x[r * d + k] - mean) / Math.Sqrt(var + c.LayerNormEps) * g[k] + b[k];
        }
        return y;
    }

    /// <summary>y[rows, out] = x[rows, in] W^T + b with W [out, in] (PyTorch layout).</summary>
    private static double[] Linear(double[] x, IReadOnlyDictionary<string, NamedTensor> w, string p, int rows)
    {
        var wt = w[$"{p}.weight"]; var b = w[$"{p}.bias"].Data;
        int outDim = wt.Shape[0], inDim = wt.Shape[1];
        var y = new double[rows * outDim];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outDim; o++)
            {
                double acc = b[o];
                for (int i = 0; i < inDim; i++) acc += x[r * inDim + i] * wt.Data[o * inDim + i];
                y[r * outDim + o] = acc;
            }
        return y;
    }

    private static double[] Mlp(double[] x, IReadOnlyDictionary<string, NamedTensor> w, string p, int rows) =>
        Linear(Gelu(Linear(x, w, $"{p}.fc", rows)), w, $"{p}.proj", rows);

    /// <summary>Multi-head attention; q [Tq, d], k and v [Tk, d]; visible(t, e) is the mask.</summary>
    private static double[] Attention(double[] q, double[] k, double[] v, int tq, int tk, int heads, int d, Func<int, int, bool> visible)
    {
        int hd = d / heads;
        var o = new double[tq * d];
        var s = new double[tk];
        for (int h = 0; h < heads; h++)
            for (int t = 0; t < tq; t++)
            {
                double max = double.NegativeInfinity;
                for (int e = 0; e < tk; e++)
                {
                    if (!visible(t, e)) { s[e] = double.NegativeInfinity; continue; }
                    double dot = 0;
                    for (int i = 0; i < hd; i++) dot += q[t * d + h * hd + i] * k[e * d + h * hd + i];
                    s[e] = dot / Math.Sqrt(hd);
                    max = Math.Max(max, s[e]);
                }
                double sum = 0;
                for (int e = 0; e < tk; e++) { s[e] = double.IsNegativeInfinity(s[e]) ? 0 : Math.Exp(s[e] - max); sum += s[e]; }
                for (int e = 0; e < tk; e++)
                    for (int i = 0; i < hd; i++) o[t * d + h * hd + i] += s[e] / sum * v[e * d + h * hd + i];
            }
        return o;
    }

    private static double[] Slice(double[] x, int rows, int width, int start, int len)
    {
        var y = new double[rows * len];
        for (int r = 0; r < rows; r++) Array.Copy(x, r * width + start, y, r * len, len);
        return y;
    }

    private static double[] Add(double[] a, double[] b) => a.Select((x, i) => x + b[i]).ToArray();

    private static double[] Gelu(double[] x) => x.Select(v => 0.5 * v * (1 + Erf(v / Math.Sqrt(2)))).ToArray();

    /// <summary>erf to ~1e-15 via its Taylor series (|x| &lt; 3) or the complementary continued fraction.</summary>
    internal static double Erf(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 3)
        {
            double term = ax, sum = ax;
            for (int n = 1; n < 100; n++)
            {
                term *= -ax * ax / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17) break;
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), evaluated bottom-up.
        double f = ax;
        for (int n = 60; n >= 1; n--) f = ax + n / 2.0 / f;
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        return Math.Sign(x) * (1 - erfc);
    }
}
