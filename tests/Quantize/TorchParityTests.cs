using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Tests.Support;
using EdgeShortcut.Trainer.Model;
using static TorchSharp.torch;

namespace EdgeShortcut.Tests.Quantize;

/// <summary>The fp32 ONNX export computes the same logits as the TorchSharp model it came from.</summary>
[Collection("Torch")]
public sealed class TorchParityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("es-torch-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Fp32_onnx_equals_the_torchsharp_forward(bool shortcut, bool tied)
    {
        var c = TinyCheckpoint.Config(shortcut, tied);
        var w = TinyCheckpoint.RandomWeights(c, seed: 21);
        using var model = new ShortcutGpt(c);
        ModelWeights.Import(model, w);
        model.eval();
        int[] ids = [5, 250, 17, 17, 99, 0, 128, 64, 3, 200, 1, 42];
        float[] torchLogits;
        using (no_grad())
        using (var input = tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]))
        using (var output = model.forward(input))
            torchLogits = output.data<float>().ToArray();

        string path = Path.Combine(_dir, "m.onnx");
        OnnxWriter.WriteFile(path, OnnxExporter.BuildModel(new CheckpointConfig { Model = c }, w, ExportPrecision.Fp32, "00").Model);
        using var runner = new OrtSequence(path);
        float[] onnxLogits = runner.Run(ids);

        Assert.Equal(torchLogits.Length, onnxLogits.Length);
        double maxDiff = torchLogits.Zip(onnxLogits).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(maxDiff < 1e-4, $"max |torch - onnx| = {maxDiff}");
    }
}
