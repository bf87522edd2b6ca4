namespace EdgeShortcut.Core.Onnx;

/// <summary>One cache tensor of the ONNX graph (FORMAT.md section 5): its input name, its output name
/// and how many entries it holds per position (1 for an ordinary block, |S| for the shortcut cache).</summary>
/// <param name="PastName">Graph input holding the cache before the run.</param>
/// <param name="PresentName">Graph output holding the cache after the run (past + new entries).</param>
/// <param name="EntriesPerPosition">Entries per position along axis 2.</param>
internal readonly record struct OnnxCache(string PastName, string PresentName, int EntriesPerPosition);

/// <summary>
/// Every name of the ONNX file contract (FORMAT.md section 5), in one place: graph inputs and outputs,
/// and how a checkpoint Linear <c>X.weight</c> <c>[out, in]</c> is stored as initializers. The quantizer
/// writes these names, the runtime's backends and the bench read them, and a test pins them to FORMAT.md.
/// </summary>
internal static class OnnxNames
{
    /// <summary>Input: new token ids <c>[batch, T]</c> int64.</summary>
    public const string InputIds = "input_ids";
    /// <summary>Output: logits <c>[batch, T, V]</c>.</summary>
    public const string Logits = "logits";
    /// <summary>Input of the shortcut cache's keys.</summary>
    public const string PastShortcutKey = "past_shortcut_key";
    /// <summary>Input of the shortcut cache's values.</summary>
    public const string PastShortcutValue = "past_shortcut_value";
    /// <summary>Output of the shortcut cache's keys.</summary>
    public const string PresentShortcutKey = "present_shortcut_key";
    /// <summary>Output of the shortcut cache's values.</summary>
    public const string PresentShortcutValue = "present_shortcut_value";

    /// <summary>Input of ordinary block i's keys <c>[batch, H, P, hd]</c>.</summary>
    public static string PastKey(int block) => $"past_key.{block}";
    /// <summary>Input of ordinary block i's values.</summary>
    public static string PastValue(int block) => $"past_value.{block}";
    /// <summary>Output of ordinary block i's keys <c>[batch, H, P+T, hd]</c>.</summary>
    public static string PresentKey(int block) => $"present_key.{block}";
    /// <summary>Output of ordinary block i's values.</summary>
    public static string PresentValue(int block) => $"present_value.{block}";

    /// <summary>The caches in binding order: key.i, value.i for each ordinary block, then the shortcut key
    /// and value (shortcut model only).</summary>
    public static OnnxCache[] Caches(ModelConfig c)
    {
        var caches = new List<OnnxCache>();
        for (int i = 0; i < c.SelfAttentionBlocks; i++)
        {
            caches.Add(new(PastKey(i), PresentKey(i), 1));
            caches.Add(new(PastValue(i), PresentValue(i), 1));
        }
        if (c.IsShortcut)
        {
            caches.Add(new(PastShortcutKey, PresentShortcutKey, c.TapCount));
            caches.Add(new(PastShortcutValue, PresentShortcutValue, c.TapCount));
        }
        return [.. caches];
    }

    /// <summary>Stem of the output head's Linear: it is always stored as <c>head.weight_*</c>, taken from
    /// <c>tok_emb.weight</c> when the embeddings are tied.</summary>
    public const string HeadStem = "head";

    /// <summary>The stem <c>X</c> of a checkpoint Linear weight name <c>X.weight</c>.</summary>
    public static string LinearStem(string weightName) =>
        weightName.EndsWith(".weight", StringComparison.Ordinal) ? weightName[..^".weight".Length]
            : throw new ArgumentException($"'{weightName}' is not a Linear weight name (X.weight).", nameof(weightName));

    /// <summary>int8 precision: the quantized weight, int8 <c>[in, out]</c>.</summary>
    public static string QuantizedWeight(string stem) => $"{stem}.weight_q";
    /// <summary>int8 precision: the per-output-channel scales, float32 <c>[out]</c>.</summary>
    public static string WeightScale(string stem) => $"{stem}.weight_scale";
    /// <summary>fp32 precision: the transposed weight, float32 <c>[in, out]</c>.</summary>
    public static string TransposedWeight(string stem) => $"{stem}.weight_t";
}
