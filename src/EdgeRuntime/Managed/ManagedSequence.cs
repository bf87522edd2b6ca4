using System.Numerics.Tensors;
using EdgeShortcut.Core;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// One generation on the managed engine: the shared <see cref="ManagedWeights"/> plus this sequence's
/// own <see cref="RunState"/> (caches at full context, allocated once). Tokens run one at a time
/// through the same decode path (prefill included); positions before the last of an
/// <see cref="Append"/> skip the final block and the head, whose outputs only feed their own logits.
/// Steady-state decode allocates nothing.
/// </summary>
internal sealed class ManagedSequence : IInferenceSequence
{
    private readonly ManagedBackend _backend;
    private readonly ManagedWeights _w;
    private readonly ModelConfig _c;
    private readonly RunState _s;
    private bool _disposed;

    /// <summary>Creates an empty sequence; <paramref name="state"/> is owned from here on.</summary>
    public ManagedSequence(ManagedBackend backend, ManagedWeights weights, RunState state)
    {
        _backend = backend;
        _w = weights;
        _c = weights.Config;
        _s = state;
    }

    /// <inheritdoc />
    public int Length { get; private set; }

    /// <inheritdoc />
    public ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(_backend.IsDisposed, _backend);
        if (tokens.IsEmpty) throw new ArgumentException("Append needs at least one token.", nameof(tokens));
        if (tokens.Length > _c.ContextLength - Length)
            throw new ArgumentException($"Appending {tokens.Length} tokens to {Length} would exceed the context length n_ctx = {_c.ContextLength}.", nameof(tokens));
        foreach (int t in tokens)
            if ((uint)t >= (uint)_c.VocabSize) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"Token id must be in 0..{_c.VocabSize - 1}.");

        for (int i = 0; i < tokens.Length; i++)
        {
            Step(tokens[i], Length, wantLogits: i == tokens.Length - 1);
            Length++;
        }
        return _s.Logits;
    }

    /// <inheritdoc />
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Length = 0;   // cache entries at positions >= Length are never read, so nothing needs clearing
    }

    /// <summary>Runs token <paramref name="token"/> at position <paramref name="p"/>; fills the caches and, if asked, the logits.</summary>
    private void Step(int token, int p, bool wantLogits)
    {
        int d = _c.Dim;
        float eps = _c.LayerNormEps;
        TensorPrimitives.Add(_w.TokenEmbedding.AsSpan(token * d, d), _w.PositionEmbedding.AsSpan(p * d, d), _s.X);

        int tap = 0;
        for (int i = 0; i < _w.Blocks.Length; i++)
        {
            TransformerBlock.Forward(_w.Blocks[i], _s, i, p, _c.Heads, _c.ContextLength, eps);
            // Layer i + 1 is tapped: its output feeds feature MLP `tap` and the shortcut cache.
            if (tap < _c.TapCount && _c.Taps[tap] == i + 1)
            {
                ShortcutAttention.AppendFeature(_w.Features[tap], _w.Shortcut!, _s, tap, p, _c.TapCount, _c.Heads, eps);
                tap++;
            }
        }
        if (!wantLogits) return;

        if (_w.Shortcut is { } shortcut) ShortcutAttention.Forward(shortcut, _s, p, _c.TapCount, _c.Heads, eps);
        LayerNorm.Apply(_s.X, _w.FinalNorm.Weight, _w.FinalNorm.Bias, eps, _s.Normed);
        _w.Head.Apply(_s.Normed, _s.Logits, _s.Quantized, _s.Parallel);
    }

    /// <summary>Stops this sequence's helper thread, if any.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _s.Dispose();
    }
}
