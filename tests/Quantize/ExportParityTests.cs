using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Tests.Support;
using Microsoft.ML.OnnxRuntime;

namespace EdgeShortcut.Tests.Quantize;

/// <summary>The exported graph, run by ONNX Runtime, computes FORMAT.md section 4: fp32 matches the
/// naive reference, and caches give the same logits as one uncached pass, for both architectures
/// and both precisions.</summary>
public sealed class ExportParityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("es-export-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private static readonly int[] Ids = [72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33, 10];

    private string Export(ModelConfig c, Dictionary<string, NamedTensor> w, ExportPrecision precision)
    {
        string path = Path.Combine(_dir, $"{(c.IsShortcut ? "sc" : "base")}-{c.TiedEmbeddings}-{precision}.onnx");
        var (model, _) = OnnxExporter.BuildModel(new CheckpointConfig { Model = c }, w, precision, "00");
        OnnxWriter.WriteFile(path, model);
        return path;
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void Fp32_export_matches_the_reference_forward(bool shortcut, bool tied)
    {
        var c = TinyCheckpoint.Config(shortcut, tied);
        var w = TinyCheckpoint.RandomWeights(c, seed: 11);
        using var runner = new OrtSequence(Export(c, w, ExportPrecision.Fp32));
        float[] logits = runner.Run(Ids);
        var expected = ReferenceForward.Logits(c, w, Ids);
        for (int t = 0; t < Ids.Length; t++)
            for (int v = 0; v < c.VocabSize; v++)
                Assert.True(Math.Abs(logits[t * c.VocabSize + v] - expected[t][v]) < 1e-4, $"t={t} v={v}: {logits[t * c.VocabSize + v]} vs {expected[t][v]}");
    }

    [Theory]
    [InlineData(true, ExportPrecision.Fp32)]
    [InlineData(true, ExportPrecision.Int8)]
    [InlineData(false, ExportPrecision.Fp32)]
    [InlineData(false, ExportPrecision.Int8)]
    public void Prefix_prefill_then_decode_steps_equal_one_uncached_pass(bool shortcut, ExportPrecision precision)
    {
        var c = TinyCheckpoint.Config(shortcut);
        var w = TinyCheckpoint.RandomWeights(c, seed: 12);
        using var runner = new OrtSequence(Export(c, w, precision));
        float[] whole = runner.Run(Ids);

        runner.Reset();
        var stepped = new List<float>(runner.Run(Ids[..5]));              // prefill of a prefix (T = 5, P = 0)
        stepped.AddRange(runner.Run(Ids[5..8]));                            // a second prefill after a past (T = 3, P = 5)
        for (int t = 8; t < Ids.Length; t++) stepped.AddRange(runner.Run([Ids[t]]));   // decode steps (T = 1)
        Assert.Equal(Ids.Length, runner.Past);
        for (int i = 0; i < whole.Length; i++)
            Assert.True(Math.Abs(whole[i] - stepped[i]) < 1e-5, $"index {i}: {whole[i]} vs {stepped[i]}");
        // The runtime's loop binds present_shortcut_* as [1, H, (P+T)|S|, hd] buffers; ONNX Runtime refuses an
        // output of any other shape, so every run above also checked the shortcut cache's layout.
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Int8_export_stays_close_to_the_reference_forward(bool shortcut)
    {
        var c = TinyCheckpoint.Config(shortcut);
        var w = TinyCheckpoint.RandomWeights(c, seed: 13);
        using var runner = new OrtSequence(Export(c, w, ExportPrecision.Int8));
        float[] logits = runner.Run(Ids);
        var expected = ReferenceForward.Logits(c, w, Ids);
        double err = 0, norm = 0;
        int agree = 0;
        for (int t = 0; t < Ids.Length; t++)
        {
            var row = logits.AsSpan(t * c.VocabSize, c.VocabSize);
            for (int v = 0; v < c.VocabSize; v++)
            {
                err += Math.Pow(row[v] - expected[t][v], 2);
                norm += Math.Pow(expected[t][v], 2);
            }
            if (row.IndexOf(MaxOf(row)) == Array.IndexOf(expected[t], expected[t].Max())) agree++;
        }
        // Per-channel int8 weights (plus ORT's int8 activations) cost about 1% of the logits' norm here;
        // a transposed or mis-scaled weight would cost 100%.
        Assert.True(Math.Sqrt(err / norm) < 0.03, $"relative RMS logit error {Math.Sqrt(err / norm)}");
        Assert.True(agree >= Ids.Length - 1, $"top-1 agreement {agree}/{Ids.Length}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void With_float_activations_the_int8_export_is_the_float_model_of_its_dequantized_weights(bool shortcut)
    {
        // Untied, so the embedding lookup (fp32 in the file) and the head (int8) are separate tensors.
        var c = TinyCheckpoint.Config(shortcut) with { TiedEmbeddings = false };
        var w = TinyCheckpoint.RandomWeights(c, seed: 14);
        using var runner = new OrtSequence(Export(c, w, ExportPrecision.Int8), floatActivations: true);
        float[] logits = runner.Run(Ids);

        var dequantized = w.ToDictionary(kv => kv.Key, kv =>
        {
            var t = kv.Value;
            bool linear = t.Shape.Length == 2 && t.Name.EndsWith(".weight", StringComparison.Ordinal)
                && t.Name is not (TensorNames.TokenEmbedding or TensorNames.PositionEmbedding);
            if (!linear) return t;
            int rows = t.Shape[0], cols = t.Shape[1];
            var q = new sbyte[rows * cols];
            var scales = new float[rows];
            var data = new float[rows * cols];
            Int8Quantization.QuantizeRows(t.Data, rows, cols, q, scales);
            Int8Quantization.DequantizeRows(q, scales, rows, cols, data);
            return new NamedTensor(t.Name, t.Shape, data);
        });
        var expected = ReferenceForward.Logits(c, dequantized, Ids);
        for (int t = 0; t < Ids.Length; t++)
            for (int v = 0; v < c.VocabSize; v++)
                Assert.True(Math.Abs(logits[t * c.VocabSize + v] - expected[t][v]) < 1e-4, $"t={t} v={v}: {logits[t * c.VocabSize + v]} vs {expected[t][v]}");
    }

    private static float MaxOf(ReadOnlySpan<float> x)
    {
        float m = float.NegativeInfinity;
        foreach (float v in x) m = Math.Max(m, v);
        return m;
    }

    [Fact]
    public void A_batch_of_two_sequences_equals_two_single_runs()
    {
        var c = TinyCheckpoint.Config(shortcut: true);
        var w = TinyCheckpoint.RandomWeights(c, seed: 14);
        string path = Export(c, w, ExportPrecision.Fp32);
        int[] a = Ids[..6], b = Ids[6..12];
        using var session = new InferenceSession(path);
        var inputs = new List<OrtValue> { OrtValue.CreateTensorValueFromMemory(a.Concat(b).Select(i => (long)i).ToArray(), [2, 6]) };
        var names = session.InputNames.ToList();
        foreach (var _ in names.Skip(1)) inputs.Add(OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [2, c.Heads, 0, c.HeadDim]));
        using var results = session.Run(new RunOptions(), names, inputs, ["logits"]);
        float[] batched = results[0].GetTensorDataAsSpan<float>().ToArray();
        foreach (var v in inputs) v.Dispose();

        using var runner = new OrtSequence(path);
        float[] single = [.. runner.Run(a), .. RunFresh(runner, b)];
        Assert.Equal(single.Length, batched.Length);
        for (int i = 0; i < single.Length; i++) Assert.True(Math.Abs(single[i] - batched[i]) < 1e-5, $"index {i}");
    }

    private static float[] RunFresh(OrtSequence runner, int[] ids)
    {
        runner.Reset();
        return runner.Run(ids);
    }
}
