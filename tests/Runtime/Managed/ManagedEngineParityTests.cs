using EdgeShortcut.Runtime;
using EdgeShortcut.Core;
using EdgeShortcut.Tests.Support;
using Xunit.Abstractions;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>
/// The managed engine against the naive fp32 <see cref="ReferenceForward"/> on tiny random models, in
/// both architectures, tied and untied. Stated bounds: the fp32 file within 1e-5 absolute per logit;
/// the int8 file within a normalized MSE (sum of squared logit errors / sum of squared logits) of
/// 5e-4, against the original fp32 weights and against the dequantized ones (measured: ~6e-5 and
/// ~5e-5; the activation quantization dominates).
/// </summary>
public class ManagedEngineParityTests(ITestOutputHelper output)
{
    public static TheoryData<bool, bool> Architectures() => new() { { true, true }, { true, false }, { false, true }, { false, false } };

    private static readonly int[] Prompt = [72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33, 10, 0, 255];

    /// <summary>Logits of every position, decoding one token at a time through the caches.</summary>
    private static List<float[]> DecodeAll(ModelConfig c, IReadOnlyDictionary<string, NamedTensor> w, bool int8, ActivationPrecision? activations = null)
    {
        using var engine = ManagedTestModels.Engine(c, w, int8, activations);
        using var seq = engine.CreateSequence();
        return [.. Prompt.Select(t => seq.Append([t]).ToArray())];
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void The_fp32_file_engine_matches_the_reference_within_1e_5_at_every_position(bool shortcut, bool tied)
    {
        var c = ManagedTestModels.Tiny(shortcut, tied);
        var w = TinyCheckpoint.RandomWeights(c, seed: 42);
        var expected = ReferenceForward.Logits(c, w, Prompt);
        var actual = DecodeAll(c, w, int8: false);
        double worst = 0;
        for (int t = 0; t < Prompt.Length; t++)
            for (int v = 0; v < c.VocabSize; v++) worst = Math.Max(worst, Math.Abs(actual[t][v] - expected[t][v]));
        output.WriteLine($"fp32 max |diff| = {worst:E2}, nmse = {ManagedTestModels.Nmse(actual, expected):E2}");
        Assert.True(worst < 1e-5, $"max |logit diff| = {worst:E2}");
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void The_int8_engine_stays_within_the_stated_error_of_the_fp32_reference(bool shortcut, bool tied)
    {
        var c = ManagedTestModels.Tiny(shortcut, tied);
        var w = TinyCheckpoint.RandomWeights(c, seed: 42);
        var actual = DecodeAll(c, w, int8: true);
        double vsFp32 = ManagedTestModels.Nmse(actual, ReferenceForward.Logits(c, w, Prompt));
        double vsDequantized = ManagedTestModels.Nmse(actual, ReferenceForward.Logits(c, ManagedTestModels.Dequantized(c, w), Prompt));
        output.WriteLine($"int8 nmse vs fp32 weights = {vsFp32:E2}, vs dequantized weights = {vsDequantized:E2}");
        Assert.True(vsFp32 < 5e-4, $"nmse vs fp32 weights = {vsFp32:E2}");
        Assert.True(vsDequantized < 5e-4, $"nmse vs dequantized weights = {vsDequantized:E2}");
        // The error keeps the ranking: the top token agrees wherever the reference's top-2 margin is
        // clear of the error (0.1 is several times the RMS logit error here, ~0.02; random models have near-ties).
        var reference = ReferenceForward.Logits(c, w, Prompt);
        int checkedPositions = 0;
        for (int t = 0; t < Prompt.Length; t++)
        {
            var sorted = reference[t].OrderDescending().ToArray();
            if (sorted[0] - sorted[1] < 0.1f) continue;
            checkedPositions++;
            Assert.Equal(Array.IndexOf(reference[t], sorted[0]), Array.IndexOf(actual[t], actual[t].Max()));
        }
        Assert.True(checkedPositions >= Prompt.Length / 2, $"only {checkedPositions} positions had a clear top token");
    }

    /// <summary>Untied only: with tied embeddings the file's lookup table stays fp32 while its head is int8, so no
    /// single dequantized checkpoint describes it.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void With_float32_activations_the_int8_file_is_the_float_model_of_its_dequantized_weights(bool shortcut)
    {
        var c = ManagedTestModels.Tiny(shortcut, tied: false);
        var w = TinyCheckpoint.RandomWeights(c, seed: 42);
        var actual = DecodeAll(c, w, int8: true, ActivationPrecision.Float32);
        var expected = ReferenceForward.Logits(c, ManagedTestModels.Dequantized(c, w), Prompt);
        double worst = 0;
        for (int t = 0; t < Prompt.Length; t++)
            for (int v = 0; v < c.VocabSize; v++) worst = Math.Max(worst, Math.Abs(actual[t][v] - expected[t][v]));
        output.WriteLine($"float32-activation int8 engine: max |diff| vs dequantized reference = {worst:E2}");
        Assert.True(worst < 1e-5, $"max |logit diff| = {worst:E2}");
    }
}
