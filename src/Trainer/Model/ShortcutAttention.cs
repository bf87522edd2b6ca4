using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Model;

/// <summary>
/// The paper's novel piece: the final block's attention over the memory of all tapped features.
/// <code>
///   memory[e] = z_j[tau],  e = tau * |S| + j            (position-major, [B, T*|S|, d])
///   q = x Wq^T + bq   (x = LN_q(x_{L-1}), [B, T, d]);   k | v = memory Wkv^T + bkv  ([B, T*|S|, 2d])
///   per head h: o_h[t] = sum_{e : tau(e) &lt;= t} softmax_e(q_h[t] . k_h[e] / sqrt(hd)) v_h[e]
///   out = concat_h(o_h) Wproj^T + bproj
/// </code>
/// Query t sees every tapped layer's feature at every position tau &lt;= t (the block-causal mask),
/// so the model stays autoregressive. An exit at trunk depth e (the exit recipe) queries from x_e and
/// also hides the entries of taps k &gt; e (<see cref="ExitMask"/>). Keys: <c>q.weight [d, d]</c>, <c>q.bias [d]</c>,
/// <c>kv.weight [2d, d]</c> (rows k then v), <c>kv.bias [2d]</c>, <c>proj.weight [d, d]</c>, <c>proj.bias [d]</c>.
/// </summary>
public sealed class ShortcutAttention : nn.Module<Tensor, Tensor, Tensor>
{
#pragma warning disable IDE1006
    private readonly Linear q;
    private readonly Linear kv;
    private readonly Linear proj;
#pragma warning restore IDE1006
    private readonly int _heads;
    private readonly int _taps;
    private readonly double _dropout;

    /// <summary>Creates the projections for width <paramref name="dim"/>, <paramref name="heads"/> heads and
    /// <paramref name="taps"/> memory entries per position.</summary>
    public ShortcutAttention(string name, int dim, int heads, int taps, double dropout) : base(name)
    {
        q = nn.Linear(dim, dim, hasBias: true);
        kv = nn.Linear(dim, 2 * dim, hasBias: true);
        proj = nn.Linear(dim, dim, hasBias: true);
        _heads = heads;
        _taps = taps;
        _dropout = dropout;
        RegisterComponents();
    }

    /// <summary>The block-causal mask <c>[T, T*|S|]</c> (bool, true = visible): query t sees memory
    /// entry e iff <c>tau(e) = e / |S| &lt;= t</c>.</summary>
    public static Tensor BlockCausalMask(long positions, int taps)
    {
        using var scope = NewDisposeScope();
        using var entriesScalar = (positions * taps).ToScalar();   // every Scalar held (issue 12, item 11)
        using var tapsScalar = taps.ToScalar();
        using var positionsScalar = positions.ToScalar();
        var tau = arange(entriesScalar, dtype: ScalarType.Int64).div(tapsScalar, rounding_mode: RoundingMode.floor);  // [T*S]
        var t = arange(positionsScalar, dtype: ScalarType.Int64).unsqueeze(1);                                       // [T, 1]
        return tau.unsqueeze(0).le(t).MoveToOuterDisposeScope();                                                  // [T, T*S]
    }

    /// <summary>The mask <c>[T, T*|S|]</c> of an exit at trunk depth <paramref name="exit"/>: query t sees
    /// entry e = (tau, j) iff <c>tau &lt;= t</c> and <c>taps[j] &lt;= exit</c>. At the full depth L-1 it equals
    /// <see cref="BlockCausalMask"/>.</summary>
    public static Tensor ExitMask(long positions, IReadOnlyList<int> taps, int exit)
    {
        using var scope = NewDisposeScope();
        var tapVisible = tensor(taps.Select(k => k <= exit).ToArray()).repeat(positions);   // [T*S], entry e -> taps[e % S] <= exit
        return BlockCausalMask(positions, taps.Count).logical_and(tapVisible.unsqueeze(0)).MoveToOuterDisposeScope();
    }

    /// <summary>The mask <c>[B, T, T*|S|]</c> of an exit at trunk depth <paramref name="exit"/> when each token
    /// has its own depth (per-token exits; docs/FORMAT.md section 4): with <paramref name="depths"/> <c>[B, T]</c>
    /// (int64) holding d_t, query t sees entry (tau, j) iff <c>tau &lt;= t</c>, <c>taps[j] &lt;= min(exit, d_t)</c>
    /// and <c>taps[j] &lt;= d_tau</c> (the entry exists). At exit L-1 this is the prediction of token t at its own
    /// depth; with every d_t = L-1 it equals <see cref="ExitMask"/> for every row.</summary>
    public static Tensor TokenExitMask(Tensor depths, IReadOnlyList<int> taps, int exit)
    {
        using var scope = NewDisposeScope();
        long t = depths.shape[1];
        int s = taps.Count;
        var tapOf = tensor(taps.Select(k => (long)k).ToArray(), device: depths.device).repeat(t);   // [T*S], entry e -> taps[e % S]
        var exists = tapOf.unsqueeze(0).le(depths.repeat_interleave(s, dim: 1));                     // [B, T*S]: taps[j] <= d_tau
        using var exitScalar = exit.ToScalar();
        var seen = tapOf.view(1, 1, -1).le(depths.clamp_max(exitScalar).unsqueeze(-1));              // [B, T, T*S]: taps[j] <= min(exit, d_t)
        var causal = BlockCausalMask(t, s).to(depths.device).unsqueeze(0);                            // [1, T, T*S]
        return causal.logical_and(exists.unsqueeze(1)).logical_and(seen).MoveToOuterDisposeScope();
    }

    /// <summary>x <c>[B, T, d]</c> (the normed queries' input) and memory <c>[B, T*|S|, d]</c> to the
    /// branch output <c>[B, T, d]</c>.</summary>
    public override Tensor forward(Tensor x, Tensor memory)
    {
        using var scope = NewDisposeScope();
        return forward(x, memory, BlockCausalMask(x.shape[1], _taps)).MoveToOuterDisposeScope();
    }

    /// <summary>Like <see cref="forward(Tensor, Tensor)"/> with an explicit boolean mask <c>[Tq, T*|S|]</c>, or
    /// <c>[B, 1, Tq, T*|S|]</c> for per-sequence masks (true = visible) for queries x <c>[B, Tq, d]</c>; every row must see at least one entry.</summary>
    public Tensor forward(Tensor x, Tensor memory, Tensor mask)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], d = x.shape[2], hd = d / _heads, n = memory.shape[1];
        var qh = q.forward(x).view(b, t, _heads, hd).transpose(1, 2);                 // [B, H, Tq, hd]
        var kvh = kv.forward(memory).view(b, n, 2, _heads, hd).permute(2, 0, 3, 1, 4); // [2, B, H, T*S, hd]
        var o = nn.functional.scaled_dot_product_attention(qh, kvh[0], kvh[1], attn_mask: mask,
            p: training ? _dropout : 0.0);                                               // [B, H, Tq, hd]
        return proj.forward(o.transpose(1, 2).reshape(b, t, d)).MoveToOuterDisposeScope();
    }

    /// <summary>The attention probabilities <c>[B, H, T, T*|S|]</c> (eval math, no dropout), for
    /// attention maps and depth profiles (PAPER.md): entry e is (tau = e / |S|, tap j = e % |S|).</summary>
    public Tensor Weights(Tensor x, Tensor memory)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], d = x.shape[2], hd = d / _heads, n = memory.shape[1];
        var qh = q.forward(x).view(b, t, _heads, hd).transpose(1, 2);
        var kh = kv.forward(memory).view(b, n, 2, _heads, hd).permute(2, 0, 3, 1, 4)[0];
        using var scaleScalar = Math.Sqrt(hd).ToScalar();
        using var hiddenScalar = double.NegativeInfinity.ToScalar();
        var scores = qh.matmul(kh.transpose(2, 3)).div(scaleScalar);
        scores = scores.masked_fill(BlockCausalMask(t, _taps).logical_not(), hiddenScalar);
        return scores.softmax(-1).MoveToOuterDisposeScope();
    }
}
