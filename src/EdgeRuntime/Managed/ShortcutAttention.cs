using EdgeShortcut.Core;
using System.Runtime.CompilerServices;
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
/// <see cref="Feature"/> and <see cref="AppendEntries"/> run when tapped layer S[j] has produced x for the new
/// positions (so x_k never needs to be stored); <see cref="Attend"/> runs after the last ordinary block, and only
/// for the position whose logits are wanted: the cache entries alone carry earlier positions forward.
/// </summary>
internal static class ShortcutAttention
{
    /// <summary>z_j = F_j(LN_j(x)) for the first T rows of <see cref="RunState.X"/> (the output of layer S[j]),
    /// written to the first T rows of <see cref="RunState.Branch"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void Feature(FeatureWeights f, RunState s, int T, float eps)
    {
        int d = f.Proj.Rows;
        var normed = s.Normed.AsSpan(0, T * d);
        // As in TransformerBlock.Mlp: LN (and the fc input's quantization) token by token.
        bool quantized = f.Fc.UsesQuantizedInput;
        TokenParallel.LayerNormRows(s.X.AsSpan(0, T * d), f.Ln, eps, normed, T, quantized ? s.Quantized : null, 0, T);
        var hidden = s.Hidden.AsSpan(0, T * f.Fc.Rows);
        bool fused = f.Proj.UsesQuantizedInput;
        f.Fc.Apply(normed, hidden, T, s.Quantized, s.Parallel, new LinearEpilogue(Gelu: true, fused ? s.QuantizedHidden : null), inputQuantized: quantized);
        f.Proj.Apply(hidden, s.Branch.AsSpan(0, T * d), T, fused ? s.QuantizedHidden : s.Quantized, s.Parallel, inputQuantized: fused);
    }

    /// <summary>Projects the T features z_j in <see cref="RunState.Branch"/> to keys and values and appends them
    /// as shortcut entries <c>(p0 + t) |S| + j</c> (<see cref="ShortcutMemory.Entry"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void AppendEntries(ShortcutWeights w, RunState s, int j, int p0, int T, int tapCount, int heads)
    {
        int d = w.Q.Rows;
        var z = s.Branch.AsSpan(0, T * d);
        var kv = s.Kv.AsSpan(0, T * 2 * d);
        w.Kv.Apply(z, kv, T, s.Quantized, s.Parallel);               // [k; v] rows
        s.ShortcutCache.MarkWritten();
        WriteEntries(s, kv, j, p0, tapCount, heads, 0, T);
    }

    /// <summary>The keys and values of tokens <paramref name="t0"/>..<paramref name="t1"/>-1 of <paramref name="kv"/>
    /// <c>[T, 2d]</c> (<c>[k; v]</c> rows) as tap <paramref name="j"/>'s entries <c>(p0 + t) |S| + j</c>, on this thread, without
    /// marking the cache written (the caller has, once: a prefill stage writes each thread's tokens side by side).
    /// Keys go transposed <c>[H, hd, capacity]</c> (row h*hd + c, column e), values <c>[H, capacity, hd]</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WriteEntries(RunState s, ReadOnlySpan<float> kv, int j, int p0, int tapCount, int heads, int t0, int t1)
    {
        int d = s.ShortcutCache.Dim;
        for (int t = t0; t < t1; t++)
        {
            int e = ShortcutMemory.Entry(p0 + t, j, tapCount);
            s.ShortcutCache.SetKeyUnmarked(kv.Slice(t * 2 * d, d), e);
            s.ShortcutCache.SetValueUnmarked(kv.Slice(t * 2 * d + d, d), heads, e);
        }
    }

    /// <summary>The attention half of the final block, in place on the residual row <paramref name="x"/> of the token
    /// at position <paramref name="p"/>: <c>h = x + Lin_proj(attend(Lin_q(LN_q(x)), first (p + 1) |S| entries))</c>.
    /// <paramref name="entryMask"/> (additive, empty = none) hides entries: those of deeper taps than the exit,
    /// and those that do not exist. With <paramref name="tapMass"/> non-empty, adds each tap's share of the
    /// attention (averaged over heads) into it. Its MLP half is <see cref="TransformerBlock.Mlp"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void Attend(ShortcutWeights w, RunState s, Span<float> x, int p, int tapCount, int heads, float eps,
        ReadOnlySpan<float> entryMask, Span<float> tapMass)
    {
        int d = w.Q.Rows, hd = d / heads;
        LayerNorm.Apply(x, w.LnQ.Weight, w.LnQ.Bias, eps, s.Normed.AsSpan(0, d));
        var q = s.Qkv.AsSpan(0, d);
        w.Q.Apply(s.Normed.AsSpan(0, d), q, 1, s.Quantized, s.Parallel);
        Elementwise.Scale(q, 1f / MathF.Sqrt(hd));   // Elementwise, not TensorPrimitives: no tier-0 code in the first calls, same bits
        int entries = ShortcutMemory.EntriesUpTo(p + 1, tapCount);
        var scores = s.Scores.AsSpan(0, entries);
        var mask = entryMask.IsEmpty ? default : entryMask[..entries];
        var attention = s.Attention.AsSpan(0, d);
        if (tapMass.IsEmpty && s.Parallel is not null && ParallelAttention.WorthSharing(entries, d, s.WeightsStream))
        {
            // A long memory (|S| entries per position): the heads on both threads, as an ordinary block's decode step.
            ParallelAttention.Run(s.Parallel, q, s.ShortcutCache, attention, mask, 1, heads, entries - 1);
        }
        else for (int h = 0; h < heads; h++)
        {
            s.ShortcutCache.Attend(h, heads, q.Slice(h * hd, hd), scores, attention.Slice(h * hd, hd), mask);
            if (tapMass.IsEmpty) continue;
            for (int e = 0; e < entries; e++) tapMass[ShortcutMemory.TapOf(e, tapCount)] += scores[e] / heads;
        }
        var branch = s.Branch.AsSpan(0, d);
        w.AttnProj.Apply(attention, branch, 1, s.Quantized, s.Parallel);
        Elementwise.Add(x, branch, x);
    }
}
