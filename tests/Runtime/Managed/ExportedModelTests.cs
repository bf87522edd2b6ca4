using EdgeShortcut.Runtime;
using EdgeShortcut.Core;
using EdgeShortcut.Quantize;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Tests.Support;
using Xunit.Abstractions;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>
/// The managed engine on files written by the real exporter (src/Quantize), against the fp32
/// reference and against ONNX Runtime's CPU provider running the same file's graph. Stated bounds:
/// fp32 files within 1e-5 of the reference and 2e-5 of ORT per logit; int8 files within a normalized
/// MSE of 5e-4 of ORT and of the fp32 reference. Measured: ~3e-14 against ORT (its fused int8-weight
/// kernel quantizes activations per token too, so both engines do the same integer arithmetic) and
/// ~5e-5 against the fp32 reference; the bound leaves room for other ORT versions and kernels.
/// </summary>
public class ExportedModelTests(ITestOutputHelper output)
{
    public static TheoryData<bool, bool> Cases() => new() { { true, true }, { true, false }, { false, true }, { false, false } };

    private static readonly int[] Tokens = [82, 79, 77, 69, 79, 58, 10, 87, 104, 121, 32, 63, 1, 250, 128, 7];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Managed_and_ORT_agree_on_the_exported_file_token_by_token_and_after_a_prefill(bool shortcut, bool int8)
    {
        var c = TinyCheckpoint.Config(shortcut, tied: shortcut);
        var w = TinyCheckpoint.RandomWeights(c, seed: 77);
        var (model, _) = OnnxExporter.BuildModel(new CheckpointConfig { Model = c, Tokenizer = TokenizerSpec.Bytes }, w,
            int8 ? ExportPrecision.Int8 : ExportPrecision.Fp32, new string('a', 64));
        string path = Path.Combine(Path.GetTempPath(), $"managed-export-{Guid.NewGuid():N}.onnx");
        try
        {
            EdgeShortcut.Core.Onnx.OnnxWriter.WriteFile(path, model);
            using var engine = ManagedBackend.Load(ModelFile.Read(path));
            using var ort = new OrtSequence(path, threads: 1);
            using var seq = engine.CreateSequence();

            // Prefill half, then decode the rest one token at a time, on both engines.
            var managed = new List<float[]> { seq.Append(Tokens.AsSpan(0, 8)).ToArray() };
            var onnx = new List<float[]> { ort.Run(Tokens[..8])[^c.VocabSize..] };
            for (int t = 8; t < Tokens.Length; t++)
            {
                managed.Add(seq.Append(Tokens.AsSpan(t, 1)).ToArray());
                onnx.Add(ort.Run([Tokens[t]]));
            }
            var reference = ReferenceForward.Logits(c, w, Tokens).Skip(7).ToList();

            double nmseOrt = ManagedTestModels.Nmse(managed, onnx);
            double maxOrt = managed.Zip(onnx).Max(p => p.First.Zip(p.Second).Max(x => Math.Abs(x.First - x.Second)));
            output.WriteLine($"managed vs ORT: nmse {nmseOrt:E2}, max |diff| {maxOrt:E2}; vs reference nmse {ManagedTestModels.Nmse(managed, reference):E2}");
            if (int8)
            {
                Assert.True(nmseOrt < 5e-4, $"nmse vs ORT = {nmseOrt:E2}");
                Assert.True(ManagedTestModels.Nmse(managed, reference) < 5e-4);
            }
            else
            {
                Assert.True(maxOrt < 2e-5, $"max |diff| vs ORT = {maxOrt:E2}");
                double maxRef = managed.Zip(reference).Max(p => p.First.Zip(p.Second).Max(x => Math.Abs(x.First - x.Second)));
                Assert.True(maxRef < 1e-5, $"max |diff| vs reference = {maxRef:E2}");
            }
        }
        finally { File.Delete(path); }
    }
}
