using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// One ordinary pre-LN GPT block for T new tokens at positions p0..p0+T-1 (T = 1 in decode), with its
/// key/value cache (FORMAT.md section 4):
/// <code>
/// q, k, v = split(Lin_qkv(LN1(x_t)))                      # each [d]; head h = columns h*hd..(h+1)*hd
/// cache[p0 + t] = (k, v);  o_h = softmax_u(q_h . k_h[u] / sqrt(hd), u &lt;= p0 + t) v_h[u]
/// x_t += Lin_proj(concat_h o_h);  x_t += Lin_mlp.proj(GELU(Lin_mlp.fc(LN2(x_t))))
/// </code>
/// All T keys and values are cached first; token t then attends over the first p0 + t + 1 cache
/// positions, which is exactly the causal mask, so no mask is ever materialized. This op-by-op form runs decode steps and
/// short batches; a prefill chunk of <see cref="TokenParallel.MinSharedTokens"/>+ tokens runs the same arithmetic in
/// <see cref="PrefillBlock"/>'s per-token stages.
/// </summary>
internal static class TransformerBlock
{
    /// <summary>The attention half of block <paramref name="index"/> on the first T rows of <see cref="RunState.X"/>,
    /// in place: <c>x_t += Lin_proj(attend(LN1(x_t)))</c>, with the new keys and values appended to its cache.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void Attention(BlockWeights w, RunState s, int index, int p0, int T, int heads, float eps) =>
        Attention(w, s, index, p0, T, heads, eps, default);

    /// <summary>As above; <paramref name="keyMask"/> <c>[n]</c> (additive, empty = none) hides the keys of positions
    /// whose tokens skipped this block (adaptive depth).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void Attention(BlockWeights w, RunState s, int index, int p0, int T, int heads, float eps, ReadOnlySpan<float> keyMask)
    {
        int d = w.AttnProj.Rows;
        var x = s.X.AsSpan(0, T * d);
        var normed = s.Normed.AsSpan(0, T * d);
        // LN1, and with int8 activations the qkv input's quantization, token by token.
        bool quantized = w.Qkv.UsesQuantizedInput;
        TokenParallel.LayerNormRows(x, w.Ln1, eps, normed, T, quantized ? s.Quantized : null, 0, T);
        var qkv = s.Qkv.AsSpan(0, T * 3 * d);
        var cache = s.Caches[index];
        if (qkv.Length != (long)T * 3 * cache.Dim) throw new ArgumentException($"The qkv rows hold {qkv.Length} values, expected {T}x{3 * cache.Dim}.");
        // The product's epilogue appends positions p0..p0+T-1 (keys transposed [H, hd, n]: row h*hd + c, column p; values
        // [H, n, hd]) and scales the queries, each thread its own rows (whole heads for an int8 cache, which quantizes a head
        // at a time: LinearEpilogue.RowAlignment); then attend.
        cache.MarkWritten();
        var append = new KeyValueAppend(cache, p0, heads);
        w.Qkv.Apply(normed, qkv, T, s.Quantized, s.Parallel, new LinearEpilogue(false, null, append), inputQuantized: quantized);
        AttendAndProject(w, s, cache, qkv, x, p0, T, heads, keyMask);
    }

    /// <summary>The rest of the attention half once the qkv rows exist and their keys and values are cached:
    /// <c>x_t += Lin_proj(attend(q_t))</c> for the T rows of <paramref name="qkv"/> <c>[T, 3d]</c> (scaled queries) and
    /// <paramref name="x"/> <c>[T, d]</c> at positions p0..p0+T-1. Also a prefill's last token alone (<see cref="PrefillBlock"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AttendAndProject(BlockWeights w, RunState s, LayerCache cache, ReadOnlySpan<float> qkv, Span<float> x, int p0, int T,
        int heads, ReadOnlySpan<float> keyMask)
    {
        int d = w.AttnProj.Rows;
        var attention = s.Attention.AsSpan(0, T * d);
        // A prefill's (head, four-token block) items, or a decode step's heads, on both threads when there are two and
        // the work pays for the hand-off (a prefill, or a decode step over a long cache); the bits are the same either way.
        var helper = T > 1 || ParallelAttention.WorthSharing(p0 + 1, d, s.WeightsStream) ? s.Parallel : null;
        ParallelAttention.Run(helper, qkv, cache, attention, keyMask, T, heads, p0);
        w.AttnProj.Apply(attention, s.Branch.AsSpan(0, T * d), T, s.Quantized, s.Parallel, residual: x);
    }

    /// <summary><c>x_t += Proj(GELU(Fc(LN(x_t))))</c> for the T rows of <paramref name="x"/> <c>[T, d]</c>
    /// (the MLP half of a block, also the shortcut block's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public static void Mlp(NormWeights ln, ManagedLinear fc, ManagedLinear proj, RunState s, Span<float> x, int T, float eps)
    {
        int d = proj.Rows;
        var normed = s.Normed.AsSpan(0, T * d);
        TokenParallel.LayerNormRows(x, ln, eps, normed, T, fc.UsesQuantizedInput ? s.Quantized : null, 0, T);
        var hidden = s.Hidden.AsSpan(0, T * fc.Rows);
        // GELU, and with int8 activations the proj's quantization, run in the fc job on the rows each thread computed.
        bool fused = proj.UsesQuantizedInput;
        fc.Apply(normed, hidden, T, s.Quantized, s.Parallel, new LinearEpilogue(Gelu: true, fused ? s.QuantizedHidden : null),
            inputQuantized: fc.UsesQuantizedInput);
        proj.Apply(hidden, s.Branch.AsSpan(0, T * d), T, fused ? s.QuantizedHidden : s.Quantized, s.Parallel, inputQuantized: fused, residual: x);
    }
}
