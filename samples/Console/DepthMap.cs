using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>One token of a depth map: the model step whose query is this token (predicting the next one).</summary>
/// <param name="Token">The token id.</param>
/// <param name="Text">The character the token starts ("" for a UTF-8 continuation byte).</param>
/// <param name="ExitDepth">The depth its prediction came from (L-1 = full).</param>
/// <param name="TapAttention">Per tapped layer (ModelConfig.Taps order), the final block's attention mass; sums to 1.</param>
internal sealed record DepthMapEntry(int Token, string Text, int ExitDepth, float[] TapAttention);

/// <summary>
/// The paper's depth map of a given text: for each position i, how deep the step on token i ran and
/// where the shortcut block's attention went. A <see cref="Generator"/> reports that for the token it
/// last ran, so for each prefix <c>tokens[..i+1]</c> the generator is reset, fed the prefix and asked for
/// one greedy token: O(T^2) model steps, fine for texts of at most n_ctx tokens. Under an adaptive
/// policy each prefix runs at full depth except its last token (the runtime's prompt rule), so a
/// column shows the exit that token would take, not the masks earlier adaptive exits would leave.
/// </summary>
internal static class DepthMap
{
    public static List<DepthMapEntry> Compute(EdgeModel model, int[] tokens, DepthPolicy policy, CancellationToken ct)
    {
        using var g = model.CreateGenerator(GenerationOptions.Greedy with { ReportDepth = true, Depth = policy, MaxNewTokens = 1 });
        string[] labels = Labels(tokens, model.Tokenizer);
        var entries = new List<DepthMapEntry>(tokens.Length);
        for (int i = 0; i < tokens.Length; i++)
        {
            ct.ThrowIfCancellationRequested();
            g.Reset();
            g.AppendTokens(tokens.AsSpan(0, i + 1));
            g.NextToken();
            entries.Add(new DepthMapEntry(tokens[i], labels[i], g.LastDepth.ExitDepth, g.LastDepth.TapAttention.ToArray()));
        }
        return entries;
    }

    /// <summary>Per byte token, the character it starts (its UTF-8 sequence decoded), "" for continuation bytes.</summary>
    private static string[] Labels(int[] tokens, EdgeTokenizer tokenizer)
    {
        var labels = new string[tokens.Length];
        for (int j = 0; j < tokens.Length; j++)
        {
            int b = tokens[j];
            int length = b < 0x80 ? 1 : b < 0xC0 ? 0 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
            labels[j] = length == 0 ? "" : tokenizer.Decode(tokens.AsSpan(j, Math.Min(length, tokens.Length - j)));
        }
        return labels;
    }
}
