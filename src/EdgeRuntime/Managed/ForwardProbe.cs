namespace EdgeShortcut.Runtime.Managed;

/// <summary>The phases of one <see cref="ForwardPass"/>, in the order they run for each token chunk.</summary>
internal enum ForwardPhase
{
    /// <summary>x_0 = E_tok[ids] + E_pos[positions].</summary>
    Embedding,
    /// <summary>An ordinary block's attention half: LN1, qkv, cache append, attend, output projection (in a prefill chunk,
    /// whose stages are <see cref="PrefillBlock"/>'s, the output projection counts in <see cref="BlockMlp"/>).</summary>
    BlockAttention,
    /// <summary>An ordinary block's MLP half (also the shortcut block's, see <see cref="ShortcutMlp"/>).</summary>
    BlockMlp,
    /// <summary>A tapped layer's feature MLP, z_j = F_j(LN_j(x)) (in a prefill chunk, with <see cref="ShortcutEntries"/>).</summary>
    FeatureMlp,
    /// <summary>The shortcut keys and values of z_j, appended to the shortcut cache.</summary>
    ShortcutEntries,
    /// <summary>The final block's attention half: LN_q, q, attend over the memory, output projection.</summary>
    ShortcutAttention,
    /// <summary>The final block's MLP half.</summary>
    ShortcutMlp,
    /// <summary>LN_f and the output head.</summary>
    Head,
}

/// <summary>
/// A hook around each phase of <see cref="ForwardPass"/>: the profiler times phases with it instead of
/// replaying a copy of the forward pass. Implementations are structs so the JIT specializes the pass for
/// each one; with <see cref="NoForwardProbe"/> the calls compile to nothing.
/// </summary>
internal interface IForwardProbe
{
    /// <summary>Called just before <paramref name="phase"/> runs.</summary>
    void Begin(ForwardPhase phase);

    /// <summary>Called just after <paramref name="phase"/> ran.</summary>
    void End(ForwardPhase phase);
}

/// <summary>The probe of normal inference: does nothing, costs nothing.</summary>
internal struct NoForwardProbe : IForwardProbe
{
    /// <inheritdoc />
    public readonly void Begin(ForwardPhase phase) { }

    /// <inheritdoc />
    public readonly void End(ForwardPhase phase) { }
}
