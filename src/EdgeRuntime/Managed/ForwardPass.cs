using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// <b>Start reading the managed engine here.</b> The shortcut GPT's forward pass (PAPER.md; FORMAT.md
/// section 4) for T new tokens at positions p0..p0+T-1, top to bottom, with the kernels as leaves:
/// <code>
/// x_0 = E_tok[ids] + E_pos[p0..p0+T-1]                                # [T, d]
/// for block l = 1..B:                                                  # B = L-1 (shortcut) or L (plain GPT)
///     x += Attn_l(LN1(x))   (keys/values appended to block l's cache)  TransformerBlock.Attention
///     x += MLP_l(LN2(x))                                               TransformerBlock.Mlp
///     if l is tap j:  z_j = F_j(LN_j(x))                               ShortcutAttention.Feature
///                     append Lin_kv(z_j) as entries (p, j)             ShortcutAttention.AppendEntries
/// last token only (its logits are the output; earlier tokens only fill caches):
///     h = x + Attn(LN_q(x), shortcut memory)                           ShortcutAttention.Attend
///     h += MLP(LN2(h))                                                 TransformerBlock.Mlp
///     logits = Head(LN_f(h))                                           LayerNorm, ManagedLinear
/// </code>
/// Buffers are <see cref="RunState"/>'s (allocated once); weights are <see cref="ManagedWeights"/>.
/// The <typeparamref name="TProbe"/> hook brackets each phase (<see cref="ForwardPhase"/>) for the profiler.
/// </summary>
internal static class ForwardPass
{
    /// <summary>Runs <paramref name="tokens"/> (at most <see cref="RunState.ChunkTokens"/>) at positions p0.. ;
    /// fills the caches and, if <paramref name="wantLogits"/>, <see cref="RunState.Logits"/> of the last one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void Run<TProbe>(ManagedWeights w, RunState s, ReadOnlySpan<int> tokens, int p0, bool wantLogits, ref TProbe probe)
        where TProbe : struct, IForwardProbe
    {
        var c = w.Config;
        int d = c.Dim, T = tokens.Length, heads = c.Heads, taps = c.TapCount;
        float eps = c.LayerNormEps;

        probe.Begin(ForwardPhase.Embedding);
        for (int t = 0; t < T; t++)
            TensorPrimitives.Add(w.TokenEmbedding.AsSpan(tokens[t] * d, d), w.PositionEmbedding.AsSpan((p0 + t) * d, d), s.X.AsSpan(t * d, d));
        probe.End(ForwardPhase.Embedding);

        for (int i = 0; i < w.Blocks.Length; i++)
        {
            var block = w.Blocks[i];
            probe.Begin(ForwardPhase.BlockAttention);
            TransformerBlock.Attention(block, s, i, p0, T, heads, c.ContextLength, eps);
            probe.End(ForwardPhase.BlockAttention);
            probe.Begin(ForwardPhase.BlockMlp);
            TransformerBlock.Mlp(block.Ln2, block.Fc, block.Proj, s, s.X.AsSpan(0, T * d), T, eps);
            probe.End(ForwardPhase.BlockMlp);

            int tap = w.TapOfBlock[i];
            if (tap < 0) continue;
            probe.Begin(ForwardPhase.FeatureMlp);
            ShortcutAttention.Feature(w.Features[tap], s, T, eps);
            probe.End(ForwardPhase.FeatureMlp);
            probe.Begin(ForwardPhase.ShortcutEntries);
            ShortcutAttention.AppendEntries(w.Shortcut!, s, tap, p0, T, taps, heads);
            probe.End(ForwardPhase.ShortcutEntries);
        }
        if (!wantLogits) return;

        int last = T - 1;
        var x = s.X.AsSpan(last * d, d);
        if (w.Shortcut is { } shortcut)
        {
            probe.Begin(ForwardPhase.ShortcutAttention);
            ShortcutAttention.Attend(shortcut, s, last, p0 + last, taps, heads, eps);
            probe.End(ForwardPhase.ShortcutAttention);
            probe.Begin(ForwardPhase.ShortcutMlp);
            TransformerBlock.Mlp(shortcut.Ln2, shortcut.Fc, shortcut.Proj, s, x, 1, eps);
            probe.End(ForwardPhase.ShortcutMlp);
        }
        probe.Begin(ForwardPhase.Head);
        var normed = s.Normed.AsSpan(0, d);
        LayerNorm.Apply(x, w.FinalNorm.Weight, w.FinalNorm.Bias, eps, normed);
        w.Head.Apply(normed, s.Logits, 1, s.Quantized, s.Parallel);
        probe.End(ForwardPhase.Head);
    }
}
