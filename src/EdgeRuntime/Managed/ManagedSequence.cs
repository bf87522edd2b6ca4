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

    /// <summary>The helper thread this sequence shares work with, or null on one thread (its counters are diagnostics).</summary>
    internal RowParallel? Parallel => _s.Parallel;

    /// <summary>The run state's <see cref="RunState.WeightsStream"/> (tests force the shared decode attention with it).</summary>
    internal bool WeightsStream { get => _s.WeightsStream; set => _s.WeightsStream = value; }

    /// <inheritdoc />
    public ReadOnlySpan<float> Append(ReadOnlySpan<int> tokens)
    {
        var probe = new NoForwardProbe();
        return Append(tokens, ref probe);
    }

    /// <summary>As <see cref="Append(ReadOnlySpan{int})"/>, with <paramref name="probe"/> around every phase of
    /// the forward pass (the profiler's hook; <see cref="NoForwardProbe"/> costs nothing).</summary>
    internal ReadOnlySpan<float> Append<TProbe>(ReadOnlySpan<int> tokens, scoped ref TProbe probe) where TProbe : struct, IForwardProbe =>
        Run(tokens, _w.FullDepth, wantLogits: true, default, ref probe);

    /// <summary>The one append loop: <paramref name="tokens"/> in chunks of at most C, every token through blocks
    /// 1..<paramref name="depth"/>; the last chunk's last token gets logits (if <paramref name="wantLogits"/>) from
    /// the exit head at that depth, and its attention mass per tap in <paramref name="tapMass"/> when non-empty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // full JIT at first call: no slow tier-0 first tokens
    private ReadOnlySpan<float> Run<TProbe>(ReadOnlySpan<int> tokens, int depth, bool wantLogits, Span<float> tapMass, scoped ref TProbe probe)
        where TProbe : struct, IForwardProbe
    {
        CheckAppend(tokens);
        // A prompt's jobs come one after another: the helper waits for them awake (RowParallel.BeginBurst); decode's don't.
        var burst = tokens.Length > 1 ? _s.Parallel : null;
        burst?.BeginBurst();
        try
        {
            for (int done = 0; done < tokens.Length;)
            {
                int T = Math.Min(_s.ChunkTokens, tokens.Length - done);
                bool last = done + T == tokens.Length;
                ForwardPass.Run(_w, _s, tokens.Slice(done, T), Length, depth, wantLogits && last, last ? tapMass : default, ref probe);
                for (int t = 0; t < T; t++) RecordDepth(Length + t, depth);
                Length += T;
                done += T;
            }
        }
        finally { burst?.EndBurst(); }
        return _s.Logits;
    }

    /// <inheritdoc />
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Length = 0;   // cache entries at positions >= Length are never read, so nothing needs clearing
    }

    // ---- Depth policies (issue 10; docs/ADAPTIVE.md). The generator checked the policy against the model. ----

    /// <summary>Blocks a full-depth token runs.</summary>
    internal int FullDepth => _w.FullDepth;

    /// <summary>Whether attention masks missing keys and entries (only under the adaptive policy, where
    /// tokens exit at different depths). Set before the first token; <see cref="Reset"/> keeps it.</summary>
    internal bool UseMasks
    {
        get => _s.Exit.UseMasks;
        set => _s.Exit.UseMasks = value;
    }

    /// <summary>As <see cref="Append(ReadOnlySpan{int})"/>, every token exiting at <paramref name="depth"/>
    /// (blocks 1..depth run; logits from the exit head there). With <paramref name="tapMass"/> non-empty, the last
    /// token's attention mass per tap is written into it (depth reports).</summary>
    internal ReadOnlySpan<float> AppendAtDepth(ReadOnlySpan<int> tokens, int depth, Span<float> tapMass = default)
    {
        var probe = new NoForwardProbe();
        return Run(tokens, depth, wantLogits: true, tapMass, ref probe);
    }

    /// <summary>One token under the adaptive policy: runs block after block, and at each probed exit
    /// (<see cref="ManagedWeights.ProbedExits"/>) asks the exit head; the token exits at the first exit whose
    /// top-1 probability reaches <paramref name="threshold"/>, else at the full depth. Returns the logits it exited with.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal ReadOnlySpan<float> AppendAdaptive(int token, float threshold, out int depth, Span<float> tapMass)
    {
        CheckAppend([token]);
        var probe = new NoForwardProbe();
        int p = Length, d = _c.Dim;
        ForwardPass.Embed(_w, _s, [token], p, ref probe);
        depth = 0;
        bool confident = false;
        foreach (int exit in _w.ProbedExits)
        {
            ForwardPass.Blocks(_w, _s, 1, p, depth, exit, ref probe);
            depth = exit;
            _s.X.AsSpan(0, d).CopyTo(_s.Exit.ExitX);
            if (!tapMass.IsEmpty) tapMass.Clear();
            ForwardPass.ExitHead(_w, _s, _s.Exit.ExitX, p, exit, _s.Logits, tapMass, ref probe);
            if (confident = Confidence(_s.Logits) >= threshold) break;
        }
        if (!confident)
        {
            ForwardPass.Blocks(_w, _s, 1, p, depth, _w.FullDepth, ref probe);
            depth = _w.FullDepth;
            if (!tapMass.IsEmpty) tapMass.Clear();
            ForwardPass.ExitHead(_w, _s, _s.X.AsSpan(0, d), p, depth, _s.Logits, tapMass, ref probe);
        }
        RecordDepth(p, depth);
        Length = p + 1;
        return _s.Logits;
    }

    /// <summary>Top-1 probability of <paramref name="logits"/>: <c>1 / sum_v exp(l_v - max l)</c>.</summary>
    internal static float Confidence(ReadOnlySpan<float> logits)
    {
        float max = TensorPrimitives.Max(logits), sum = 0;
        foreach (float l in logits) sum += MathF.Exp(l - max);
        return 1f / sum;
    }

    /// <summary>Self-speculative draft: appends one token at <paramref name="depth"/> &lt; full and keeps its
    /// residual x_depth as draft row <paramref name="row"/> for <see cref="Verify"/>. Returns the draft logits
    /// when <paramref name="wantLogits"/> (the last draft of a round needs none: nothing follows it).</summary>
    internal ReadOnlySpan<float> AppendDraft(int token, int depth, int row, bool wantLogits = true)
    {
        var probe = new NoForwardProbe();
        Run([token], depth, wantLogits, default, ref probe);
        _s.X.AsSpan(0, _c.Dim).CopyTo(_s.Exit.DraftX.AsSpan(row * _c.Dim, _c.Dim));
        return wantLogits ? _s.Logits : default;
    }

    /// <summary>Self-speculative verification: the last <paramref name="count"/> positions were drafted at
    /// <paramref name="draftDepth"/> (<see cref="AppendDraft"/>, rows 0..count-1); runs their remaining blocks as one
    /// batch and the full-depth head for each. Returns their logits <c>[count, V]</c>, row t predicting the token
    /// after position Length-count+t: exactly the logits full-depth decoding computes (same kernels, same order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal ReadOnlySpan<float> Verify(int count, int draftDepth)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count < 1 || count > Math.Min(Length, _s.ChunkTokens)) throw new ArgumentOutOfRangeException(nameof(count));
        int d = _c.Dim, V = _c.VocabSize, p0 = Length - count;
        var probe = new NoForwardProbe();
        _s.Exit.DraftX.AsSpan(0, count * d).CopyTo(_s.X);
        ForwardPass.Blocks(_w, _s, count, p0, draftDepth, _w.FullDepth, ref probe);
        for (int t = 0; t < count; t++)
        {
            ForwardPass.ExitHead(_w, _s, _s.X.AsSpan(t * d, d), p0 + t, _w.FullDepth, _s.Exit.RowLogits.AsSpan(t * V, V), default, ref probe);
            RecordDepth(p0 + t, _w.FullDepth);
        }
        return _s.Exit.RowLogits.AsSpan(0, count * V);
    }

    /// <summary>Drops the positions from <paramref name="length"/> on (rejected drafts): the caches beyond it are
    /// never read again and are overwritten by the next append.</summary>
    internal void Rewind(int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), $"Cannot rewind {Length} positions to {length}.");
        Length = length;
    }

    /// <summary>Under masks, notes that the token at <paramref name="p"/> ran blocks 1..<paramref name="depth"/> only:
    /// its keys in deeper blocks and its entries of deeper taps are hidden from later tokens.</summary>
    private void RecordDepth(int p, int depth)
    {
        var exit = _s.Exit;
        if (!exit.UseMasks) return;
        for (int i = 0; i < exit.BlockKeyMask.Length; i++) exit.BlockKeyMask[i][p] = i < depth ? 0 : AttentionKernels.Masked;
        for (int j = 0; j < _c.TapCount; j++)
            exit.EntryMask[ShortcutMemory.Entry(p, j, _c.TapCount)] = _c.Taps[j] <= depth ? 0 : AttentionKernels.Masked;
    }

    private void CheckAppend(ReadOnlySpan<int> tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(_backend.IsDisposed, _backend);
        if (tokens.IsEmpty) throw new ArgumentException("Append needs at least one token.", nameof(tokens));
        if (tokens.Length > _c.ContextLength - Length)
            throw new ArgumentException($"Appending {tokens.Length} tokens to {Length} would exceed the context length n_ctx = {_c.ContextLength}.", nameof(tokens));
        foreach (int t in tokens)
            if ((uint)t >= (uint)_c.VocabSize) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"Token id must be in 0..{_c.VocabSize - 1}.");
    }

    /// <summary>Stops this sequence's helper thread, if any.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _s.Dispose();
    }
}
