using System.Runtime.CompilerServices;
using EdgeShortcut.Core;

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
    public ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens)
    {
        var probe = new NoForwardProbe();
        return Append(tokens, ref probe);
    }

    /// <summary>As <see cref="Append(ReadOnlySpan{int})"/>, with <paramref name="probe"/> around every phase of
    /// the forward pass (the profiler's hook; <see cref="NoForwardProbe"/> costs nothing).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    internal ReadOnlySpan<float> Append<TProbe>(ReadOnlySpan<int> tokens, scoped ref TProbe probe) where TProbe : struct, IForwardProbe
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(_backend.IsDisposed, _backend);
        if (tokens.IsEmpty) throw new ArgumentException("Append needs at least one token.", nameof(tokens));
        if (tokens.Length > _c.ContextLength - Length)
            throw new ArgumentException($"Appending {tokens.Length} tokens to {Length} would exceed the context length n_ctx = {_c.ContextLength}.", nameof(tokens));
        foreach (int t in tokens)
            if ((uint)t >= (uint)_c.VocabSize) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"Token id must be in 0..{_c.VocabSize - 1}.");

        // Chunks of at most C tokens; only the last chunk's last token needs logits.
        for (int done = 0; done < tokens.Length;)
        {
            int T = Math.Min(_s.ChunkTokens, tokens.Length - done);
            ForwardPass.Run(_w, _s, tokens.Slice(done, T), Length, done + T == tokens.Length, ref probe);
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

    /// <summary>Stops this sequence's helper thread, if any.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _s.Dispose();
    }
}
