using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using EdgeShortcut.Core;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// One generation on the managed engine: the shared <see cref="ManagedWeights"/> plus this sequence's
/// own <see cref="RunState"/> (caches at full context, allocated once). A prompt runs in chunks of up
/// to <see cref="RunState.ChunkTokens"/> tokens (each weight chunk is read once per chunk of tokens);
/// decode is a chunk of one. Every token goes through the same kernels either way, so prefill and
/// token-by-token decode give bit-identical logits. Positions before the last of an
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    public ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(_backend.IsDisposed, _backend);
        if (tokens.IsEmpty) throw new ArgumentException("Append needs at least one token.", nameof(tokens));
        if (tokens.Length > _c.ContextLength - Length)
            throw new ArgumentException($"Appending {tokens.Length} tokens to {Length} would exceed the context length n_ctx = {_c.ContextLength}.", nameof(tokens));
        foreach (int t in tokens)
            if ((uint)t >= (uint)_c.VocabSize) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"Token id must be in 0..{_c.VocabSize - 1}.");

        for (int done = 0; done < tokens.Length;)
        {
            int T = Math.Min(_s.ChunkTokens, tokens.Length - done);
            Step(tokens.Slice(done, T), Length, wantLogits: done + T == tokens.Length);
            Length += T;
            done += T;
        }
        return _s.Logits;
    }

    /// <inheritdoc />
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Length = 0;   // cache entries at positions >= Length are never read, so nothing needs clearing
    }

    /// <summary>Runs <paramref name="tokens"/> (at most C) at positions p0.. ; fills the caches and, if
    /// asked, the logits of the last one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    private void Step(ReadOnlySpan<int> tokens, int p0, bool wantLogits)
    {
        int d = _c.Dim, T = tokens.Length;
        float eps = _c.LayerNormEps;
        for (int t = 0; t < T; t++)
            TensorPrimitives.Add(_w.TokenEmbedding.AsSpan(tokens[t] * d, d), _w.PositionEmbedding.AsSpan((p0 + t) * d, d), _s.X.AsSpan(t * d, d));

        int tap = 0;
        for (int i = 0; i < _w.Blocks.Length; i++)
        {
            TransformerBlock.Forward(_w.Blocks[i], _s, i, p0, T, _c.Heads, _c.ContextLength, eps);
            // Layer i + 1 is tapped: its output feeds feature MLP `tap` and the shortcut cache.
            if (tap < _c.TapCount && _c.Taps[tap] == i + 1)
            {
                ShortcutAttention.AppendFeatures(_w.Features[tap], _w.Shortcut!, _s, tap, p0, T, _c.TapCount, _c.Heads, eps);
                tap++;
            }
        }
        if (!wantLogits) return;

        int last = T - 1;
        if (_w.Shortcut is { } shortcut) ShortcutAttention.Forward(shortcut, _s, last, p0 + last, _c.TapCount, _c.Heads, eps);
        var normed = _s.Normed.AsSpan(0, d);
        LayerNorm.Apply(_s.X.AsSpan(last * d, d), _w.FinalNorm.Weight, _w.FinalNorm.Bias, eps, normed);
        _w.Head.Apply(normed, _s.Logits, 1, _s.Quantized, _s.Parallel);
    }

    /// <summary>Stops this sequence's helper thread, if any.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _s.Dispose();
    }
}
