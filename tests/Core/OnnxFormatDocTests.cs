using System.Text.RegularExpressions;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Core;

/// <summary>Pins docs/FORMAT.md section 5 the way <see cref="FormatDocTests"/> pins section 3: the
/// input/output table to <see cref="OnnxNames"/> and to the graph the exporter really writes, and the
/// Linear initializer table to <see cref="OnnxLinearWeights"/>.</summary>
public class OnnxFormatDocTests
{
    // Distinct sizes so a swapped dimension cannot pass: 3 ordinary blocks, |S| = 2.
    private static readonly ModelConfig Config = new()
    {
        VocabSize = 11, ContextLength = 7, Layers = 4, Dim = 6, Heads = 2, FeedForwardDim = 10, FeatureDim = 14, Taps = [1, 3],
    };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Io_table_names_exactly_the_contract_and_the_exported_graph(bool shortcut)
    {
        var c = shortcut ? Config : Config with { Taps = [] };
        var doc = ReadTable("onnx-io-table");
        var docInputs = doc.Where(r => !r.Name.Contains("(output")).SelectMany(r => Expand(r.Name, c)).ToHashSet();
        var docOutputs = doc.Where(r => r.Name.Contains("(output")).SelectMany(r => Expand(r.Name, c)).ToHashSet();

        var caches = OnnxNames.Caches(c);
        string[] contractInputs = [OnnxNames.InputIds, .. caches.Select(k => k.PastName)];
        string[] contractOutputs = [OnnxNames.Logits, .. caches.Select(k => k.PresentName)];
        Assert.Equal(contractInputs.Order(), docInputs.Order());
        Assert.Equal(contractOutputs.Order(), docOutputs.Order());

        var weights = TinyCheckpoint.RandomWeights(c, seed: 3);
        var (model, _) = OnnxExporter.BuildModel(new CheckpointConfig { Model = c, Tokenizer = new TokenizerSpec(TokenizerSpec.TokenFileKind, c.VocabSize) },
            weights, ExportPrecision.Int8, new string('0', 64));
        Assert.Equal(contractInputs.Order(), model.Graph.Inputs.Select(v => v.Name).Order());
        Assert.Equal(contractOutputs.Order(), model.Graph.Outputs.Select(v => v.Name).Order());
        foreach (var v in model.Graph.Inputs.Concat(model.Graph.Outputs))
        {
            var row = doc.Single(r => Expand(r.Name, c).Contains(v.Name));
            Assert.Equal(row.Cells[0], v.ElemType == OnnxDataType.Int64 ? "int64" : v.ElemType == OnnxDataType.Float ? "float32" : v.ElemType.ToString());
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Linear_table_gives_the_initializers_every_writer_emits(bool int8)
    {
        const int Out = 3, In = 5;
        var w = new NamedTensor("X.weight", [Out, In], [.. Enumerable.Range(1, Out * In).Select(i => (float)i)]);
        var (tensors, _) = OnnxLinearWeights.Linear(OnnxNames.LinearStem(w.Name), w, int8);
        var doc = ReadTable("onnx-linear-table").Where(r => r.Cells[2] == (int8 ? "int8" : "fp32")).ToList();
        Assert.Equal(doc.Select(r => r.Name.Trim('`')).Order(), tensors.Select(t => t.Name).Order());
        foreach (var t in tensors)
        {
            var row = doc.Single(r => r.Name.Trim('`') == t.Name);
            Assert.Equal(row.Cells[0], t.DataType == OnnxDataType.Int8 ? "int8" : "float32");
            long[] shape = [.. row.Cells[1].Trim('[', ']').Split(',').Select(s => s.Trim() switch { "in" => (long)In, "out" => Out, var x => throw new Exception($"unknown symbol {x}") })];
            Assert.Equal(shape, t.Dims);
        }
    }

    /// <summary>A doc name cell (<c>`past_key.{i}`, `past_value.{i}`</c>) as the concrete names for config <paramref name="c"/>.</summary>
    private static IEnumerable<string> Expand(string cell, ModelConfig c)
    {
        if (cell.Contains("shortcut") && !c.IsShortcut) yield break;
        foreach (Match m in Regex.Matches(cell, "`([^`]+)`"))
        {
            string name = m.Groups[1].Value;
            if (name.Contains("{i}"))
                for (int i = 0; i < c.SelfAttentionBlocks; i++) yield return name.Replace("{i}", i.ToString());
            else yield return name;
        }
    }

    private sealed record Row(string Name, string[] Cells);

    /// <summary>The rows between the table's markers: the first cell raw, the rest trimmed.</summary>
    private static List<Row> ReadTable(string marker)
    {
        string text = File.ReadAllText(Path.Combine(RepoPaths.Root(), "docs", "FORMAT.md"));
        int begin = text.IndexOf($"<!-- {marker}:begin -->", StringComparison.Ordinal);
        int end = text.IndexOf($"<!-- {marker}:end -->", StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, $"docs/FORMAT.md lacks the {marker} markers");
        var rows = new List<Row>();
        foreach (string line in text[begin..end].Split('\n'))
        {
            if (!line.StartsWith("| `", StringComparison.Ordinal)) continue;
            var cells = Regex.Split(line.Trim().Trim('|'), @"(?<!\\)\|").Select(s => s.Trim()).ToArray();
            rows.Add(new Row(cells[0], cells[1..]));
        }
        Assert.NotEmpty(rows);
        return rows;
    }
}
