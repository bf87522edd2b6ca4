using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// What a sequence keeps for depth policies (issue 10; docs/ADAPTIVE.md), allocated once with the
/// <see cref="RunState"/>. Shapes: n = n_ctx, B ordinary blocks, |S| taps, d width, V vocab, C chunk rows.
/// <para>Masks (additive, 0 or <see cref="AttentionKernels.Masked"/>) are used only under
/// <see cref="DepthPolicyKind.Adaptive"/>, where a token that exits at depth e has no keys in blocks
/// deeper than e and no memory entries for taps deeper than e: later tokens must not attend to them
/// (the model was trained that way, Mixture-of-Depths style: nothing is filled in).</para>
/// </summary>
internal sealed class ExitState
{
    public ExitState(ModelConfig c, int chunkRows)
    {
        int n = c.ContextLength, S = Math.Max(1, c.TapCount), d = c.Dim;
        BlockKeyMask = new float[c.SelfAttentionBlocks][];
        for (int i = 0; i < BlockKeyMask.Length; i++) BlockKeyMask[i] = new float[n];
        EntryMask = new float[n * S];
        QueryMask = new float[n * S];
        ExitX = new float[d];
        DraftX = new float[chunkRows * d];
        RowLogits = new float[chunkRows * c.VocabSize];
        TapMass = new float[S];
    }

    /// <summary>True when keys and entries may be missing (<see cref="DepthPolicyKind.Adaptive"/>): attention
    /// then applies <see cref="BlockKeyMask"/> and <see cref="EntryMask"/>.</summary>
    public bool UseMasks { get; set; }

    /// <summary>Per ordinary block, per position: 0 if the position's key exists there. <c>[B][n]</c></summary>
    public float[][] BlockKeyMask { get; }

    /// <summary>Per memory entry e = tau |S| + j: 0 if it exists. <c>[n |S|]</c></summary>
    public float[] EntryMask { get; }

    /// <summary>Scratch: <see cref="EntryMask"/> plus the query's own tap limit. <c>[n |S|]</c></summary>
    public float[] QueryMask { get; }

    /// <summary>Scratch residual row the exit head runs on, so a probe leaves x_e intact. <c>[d]</c></summary>
    public float[] ExitX { get; }

    /// <summary>Residual rows x_draft of drafted tokens, the input of their verification. <c>[C, d]</c></summary>
    public float[] DraftX { get; }

    /// <summary>Logits of every verified row. <c>[C, V]</c></summary>
    public float[] RowLogits { get; }

    /// <summary>Attention mass per tap of the last exit head (when asked). <c>[|S|]</c></summary>
    public float[] TapMass { get; }
}
