namespace EdgeShortcut.Core;

/// <summary>
/// The tensor-name contract (docs/FORMAT.md): every checkpoint tensor's name and shape as a
/// function of the config. Linear weights are PyTorch layout <c>[out, in]</c>. The trainer's module
/// field names produce exactly these keys; the quantizer and the runtime look tensors up by them.
/// </summary>
internal static class TensorNames
{
    /// <summary>Token embedding <c>[V, d]</c> (also the output head when tied).</summary>
    public const string TokenEmbedding = "tok_emb.weight";
    /// <summary>Learned positions <c>[n_ctx, d]</c>.</summary>
    public const string PositionEmbedding = "pos_emb.weight";
    /// <summary>Untied output head <c>[V, d]</c> (absent when tied).</summary>
    public const string Head = "head.weight";
    /// <summary>Prefix of the final LayerNorm (<c>.weight</c>, <c>.bias</c>, each <c>[d]</c>).</summary>
    public const string FinalNorm = "ln_f";

    /// <summary>Prefix of ordinary block i (0-based; i = 0..SelfAttentionBlocks-1).</summary>
    public static string Block(int i) => $"blocks.{i}";
    /// <summary>Prefix of the feature MLP of the j-th tapped layer (0-based index into Taps).</summary>
    public static string Feature(int j) => $"features.{j}";
    /// <summary>Prefix of the final shortcut block.</summary>
    public const string Shortcut = "shortcut";

    /// <summary>Every tensor of the model with its shape, in a fixed order.</summary>
    public static IReadOnlyList<(string Name, int[] Shape)> All(ModelConfig c)
    {
        int d = c.Dim, f = c.FeedForwardDim, m = c.FeatureDim;
        var list = new List<(string, int[])>
        {
            (TokenEmbedding, [c.VocabSize, d]),
            (PositionEmbedding, [c.ContextLength, d]),
        };
        void Norm(string p) { list.Add(($"{p}.weight", [d])); list.Add(($"{p}.bias", [d])); }
        void Linear(string p, int outDim, int inDim) { list.Add(($"{p}.weight", [outDim, inDim])); list.Add(($"{p}.bias", [outDim])); }
        void Mlp(string p) { Linear($"{p}.fc", f, d); Linear($"{p}.proj", d, f); }

        for (int i = 0; i < c.SelfAttentionBlocks; i++)
        {
            string b = Block(i);
            Norm($"{b}.ln1");
            Linear($"{b}.attn.qkv", 3 * d, d);   // rows: [q; k; v], heads contiguous inside each
            Linear($"{b}.attn.proj", d, d);
            Norm($"{b}.ln2");
            Mlp($"{b}.mlp");
        }
        if (c.IsShortcut)
        {
            for (int j = 0; j < c.TapCount; j++)
            {
                string p = Feature(j);
                Norm($"{p}.ln");
                Linear($"{p}.fc", m, d);
                Linear($"{p}.proj", d, m);
            }
            Norm($"{Shortcut}.ln_q");
            Linear($"{Shortcut}.attn.q", d, d);
            Linear($"{Shortcut}.attn.kv", 2 * d, d);   // rows: [k; v]
            Linear($"{Shortcut}.attn.proj", d, d);
            Norm($"{Shortcut}.ln2");
            Mlp($"{Shortcut}.mlp");
        }
        Norm(FinalNorm);
        if (!c.TiedEmbeddings) list.Add((Head, [c.VocabSize, d]));
        return list;
    }

    /// <summary>Total parameter count of a config.</summary>
    public static long ParameterCount(ModelConfig c) => All(c).Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));
}
