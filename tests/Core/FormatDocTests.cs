using System.Text.RegularExpressions;
using EdgeShortcut.Core;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Core;

/// <summary>Pins docs/FORMAT.md's tensor table (between the tensor-table markers) to
/// <see cref="TensorNames.All"/>: same names (with <c>{i}</c>/<c>{j}</c> for block and feature
/// indices) and the same shapes once the doc's symbols are given values.</summary>
public class FormatDocTests
{
    // Every symbol gets a distinct value so a swapped dimension in the doc cannot pass.
    private static readonly ModelConfig Config = new()
    {
        VocabSize = 11, ContextLength = 7, Layers = 4, Dim = 6, Heads = 2, FeedForwardDim = 10, FeatureDim = 14,
        Taps = [1, 3], TiedEmbeddings = false,
    };

    [Fact]
    public void Tensor_table_lists_exactly_the_contract_names_and_shapes()
    {
        var doc = ReadTable();
        var code = new Dictionary<string, int[]>();
        foreach (var cfg in new[] { Config, Config with { Taps = [] } })
            foreach (var (name, shape) in TensorNames.All(cfg))
                code.TryAdd(Pattern(name), shape);

        Assert.Equal(code.Keys.Order(), doc.Keys.Order());
        foreach (var (name, shape) in code)
            Assert.True(shape.SequenceEqual(doc[name]), $"{name}: doc says [{string.Join(",", doc[name])}], code says [{string.Join(",", shape)}]");
    }

    private static string Pattern(string name) =>
        Regex.Replace(Regex.Replace(name, @"^blocks\.\d+\.", "blocks.{i}."), @"^features\.\d+\.", "features.{j}.");

    private static Dictionary<string, int[]> ReadTable()
    {
        string text = File.ReadAllText(Path.Combine(RepoPaths.Root(), "docs", "FORMAT.md"));
        int begin = text.IndexOf("<!-- tensor-table:begin -->", StringComparison.Ordinal);
        int end = text.IndexOf("<!-- tensor-table:end -->", StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, "docs/FORMAT.md lacks the tensor-table markers");
        var rows = new Dictionary<string, int[]>();
        foreach (Match m in Regex.Matches(text[begin..end], @"^\|\s*`([^`]+)`\s*\|\s*\[([^\]]*)\]\s*\|", RegexOptions.Multiline))
        {
            int[] shape = m.Groups[2].Value.Split(',').Select(s => Evaluate(s.Trim())).ToArray();
            Assert.True(rows.TryAdd(m.Groups[1].Value, shape), $"duplicate row {m.Groups[1].Value}");
        }
        Assert.NotEmpty(rows);
        return rows;
    }

    /// <summary>Evaluates a shape symbol of the doc: an optional integer factor and one of V, n_ctx, d, d_ff, m.</summary>
    private static int Evaluate(string expr)
    {
        var m = Regex.Match(expr, @"^(\d*)\s*(V|n_ctx|d_ff|d|m)$");
        Assert.True(m.Success, $"unknown shape symbol '{expr}' in docs/FORMAT.md");
        int factor = m.Groups[1].Value.Length > 0 ? int.Parse(m.Groups[1].Value) : 1;
        return factor * m.Groups[2].Value switch
        {
            "V" => Config.VocabSize, "n_ctx" => Config.ContextLength, "d_ff" => Config.FeedForwardDim,
            "d" => Config.Dim, _ => Config.FeatureDim,
        };
    }
}
