using System.Numerics.Tensors;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.Runtime;

/// <summary>
/// Self-speculative greedy decoding (LayerSkip-style, on the shortcut block as the shared exit head):
/// <code>
/// a = the last sampled token (exact, not yet run), n = its position
/// draft:  tokens[0] = a; for i = 0..k-1: append tokens[i] at depth D, tokens[i+1] = argmax(draft logits)
/// verify: run blocks D+1..L-1 on positions n..n+k-1 as one batch, full-depth head per row: F_0..F_{k-1}
/// accept: m = 1 + the longest i with argmax F_{i-1} == tokens[i]; output tokens[1..m-1] and argmax F_{m-1}
/// rewind: the caches keep positions 0..n+m-1 (every kept position now has every block)
/// </code>
/// Every output token is the full model's greedy choice, so the text equals <see cref="DepthPolicy.Full"/>'s;
/// what changes is the cost: k shallow steps and one batched pass of k rows instead of m full steps.
/// The blocks below D of the drafted tokens are reused as they are (they equal the full pass's).
/// </summary>
internal sealed class SpeculativeDecoder
{
    private readonly ManagedSequence _sequence;
    private readonly int _depth, _maxDraft, _contextLength, _vocab;
    private readonly int[] _tokens;

    public SpeculativeDecoder(ManagedSequence sequence, ModelConfig config, DepthPolicy policy)
    {
        _sequence = sequence;
        _depth = policy.ResolvedDepth(config);
        _maxDraft = Math.Min(policy.MaxDraft, Math.Min(config.ContextLength, Managed.RunState.MaxChunkTokens));
        _contextLength = config.ContextLength;
        _vocab = config.VocabSize;
        _tokens = new int[_maxDraft + 1];
    }

    /// <summary>Drafted tokens so far and how many of them the full model accepted (for reports).</summary>
    public long Drafted { get; private set; }

    /// <summary>Drafted tokens the full model agreed with.</summary>
    public long Accepted { get; private set; }

    /// <summary>One round from <paramref name="a"/> (the pending token at position Length). Writes the m tokens that
    /// follow a into <paramref name="output"/> and their logits into <paramref name="logits"/> <c>[m, V]</c>; returns m.
    /// Afterwards a and output[0..m-2] are cached; output[m-1] is not (it is the next round's a).</summary>
    public int Round(int a, Span<int> output, Span<float> logits)
    {
        int n = _sequence.Length;
        int k = Math.Min(_maxDraft, _contextLength - n);
        if (k < 1) throw new InvalidOperationException("No room in the context for a speculative round.");
        _tokens[0] = a;
        for (int i = 0; i < k; i++)
        {
            bool more = i + 1 < k;
            var draft = _sequence.AppendDraft(_tokens[i], _depth, i, wantLogits: more);
            if (more) _tokens[i + 1] = TensorPrimitives.IndexOfMax(draft);
        }
        var full = _sequence.Verify(k, _depth);
        int m = 1;
        while (m < k && TensorPrimitives.IndexOfMax(full.Slice((m - 1) * _vocab, _vocab)) == _tokens[m]) m++;
        Drafted += k - 1;
        Accepted += m - 1;
        for (int i = 1; i < m; i++) output[i - 1] = _tokens[i];
        output[m - 1] = TensorPrimitives.IndexOfMax(full.Slice((m - 1) * _vocab, _vocab));
        full[..(m * _vocab)].CopyTo(logits);
        _sequence.Rewind(n + m);
        return m;
    }

    /// <summary>Forgets cached positions from <paramref name="length"/> on (tokens a round produced ahead that the
    /// generator will not return); nothing when the caches are not longer than that.</summary>
    public void DropAheadOf(int length)
    {
        if (_sequence.Length > length) _sequence.Rewind(length);
    }

    /// <summary>Most tokens one round returns.</summary>
    public int MaxTokensPerRound => _maxDraft;
}
