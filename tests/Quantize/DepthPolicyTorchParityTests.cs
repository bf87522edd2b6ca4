using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Tests.Support;
using EdgeShortcut.Trainer.Model;
using static TorchSharp.torch;

namespace EdgeShortcut.Tests.Quantize;

/// <summary>Each depth policy gives the managed engine the logits the TorchSharp model computes at the same
/// depths (issue 10): a fixed exit against <c>forward(ids, [e])</c>, adaptive per-token depths against
/// <c>forward(ids, [L-1], depths)</c> (each token predicted at its own depth, skipped keys and entries hidden).</summary>
[Collection("Torch")]
public sealed class DepthPolicyTorchParityTests
{
    // L 4: blocks 1..3 in the trunk, taps {1, 3}, exits {1, 2}; the adaptive policy probes exit 1 only (two blocks above it).
    private static readonly ModelConfig Config = (TinyCheckpoint.Config() with { Layers = 4, Taps = [1, 3], ExitDepths = [1, 2] }).Validate();
    private static readonly int[] Ids = [5, 250, 17, 17, 99, 0, 128, 64, 3, 200, 1, 42];

    private static (ShortcutGpt Torch, ManagedBackend Managed) Models(int seed)
    {
        var w = TinyCheckpoint.RandomWeights(Config, seed);
        var torchModel = new ShortcutGpt(Config);
        ModelWeights.Import(torchModel, w);
        torchModel.eval();
        var onnx = OnnxExporter.BuildModel(new CheckpointConfig { Model = Config }, w, ExportPrecision.Fp32, "00").Model;
        return (torchModel, ManagedBackend.FromOnnx(OnnxReader.Read(OnnxWriter.ToBytes(onnx), "m.onnx"), "m.onnx"));
    }

    /// <summary>Torch logits <c>[T][V]</c> of exit <paramref name="exit"/>, optionally with per-token depths.</summary>
    private static float[][] TorchLogits(ShortcutGpt model, int exit, long[]? depths = null)
    {
        using var _ = NewDisposeScope();
        using var __ = no_grad();
        var ids = tensor(Ids.Select(i => (long)i).ToArray(), [1, Ids.Length]);
        var logits = depths is null ? model.forward(ids, [exit])[0] : model.forward(ids, [exit], tensor(depths, [1, depths.Length]))[0];
        var flat = logits.data<float>().ToArray();
        return [.. Enumerable.Range(0, Ids.Length).Select(t => flat.AsSpan(t * Config.VocabSize, Config.VocabSize).ToArray())];
    }

    private static double MaxAbsDiff(float[] a, float[] b) => a.Zip(b).Max(p => Math.Abs(p.First - p.Second));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Fixed_depth_logits_equal_the_torchsharp_exit(int depth)
    {
        var (torchModel, managed) = Models(seed: 31);
        using var _ = torchModel;
        using var __ = managed;
        var expected = TorchLogits(torchModel, depth);
        using var s = managed.CreateManagedSequence();
        for (int t = 0; t < Ids.Length; t++)
        {
            double diff = MaxAbsDiff(s.AppendAtDepth([Ids[t]], depth).ToArray(), expected[t]);
            Assert.True(diff < 1e-4, $"position {t}, depth {depth}: max |managed - torch| = {diff}");
        }
    }

    [Fact]
    public void Adaptive_per_token_depths_give_the_torchsharp_per_token_forward()
    {
        var (torchModel, managed) = Models(seed: 32);
        using var _ = torchModel;
        using var __ = managed;
        using var s = managed.CreateManagedSequence();
        s.UseMasks = true;
        // Threshold 0 exits at the probed exit 1, threshold 2 (above any probability) runs the full depth 3.
        float[] thresholds = [0f, 2f, 2f, 0f, 0f, 2f, 0f, 2f, 2f, 0f, 2f, 0f];
        var depths = new long[Ids.Length];
        var logits = new float[Ids.Length][];
        for (int t = 0; t < Ids.Length; t++)
        {
            logits[t] = s.AppendAdaptive(Ids[t], thresholds[t], out int d, default).ToArray();
            depths[t] = d;
        }
        Assert.Equal(thresholds.Select(th => th == 0f ? 1L : 3L), depths);
        var expected = TorchLogits(torchModel, Config.Layers - 1, depths);
        for (int t = 0; t < Ids.Length; t++)
        {
            double diff = MaxAbsDiff(logits[t], expected[t]);
            Assert.True(diff < 1e-4, $"position {t} (depth {depths[t]}): max |managed - torch| = {diff}");
        }
    }
}
