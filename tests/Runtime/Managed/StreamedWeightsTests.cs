using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Managed.Kernels;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13: the loader marks a model's int8 weights as streamed from memory exactly when the model is larger
/// than the last-level cache, so the VNNI matvec walks them one row group at a time only then; and it asks for
/// non-temporal prefetches for those weights, which pass through the caches once per token, in both activation modes.</summary>
public class StreamedWeightsTests
{
    [Theory]
    [InlineData(128, 2, false)]   // ~0.5 MB of weights: they stay in cache between tokens
    [InlineData(768, 2, false)]   // ~14 MB: still under PackedInt8Matrix.CacheResidentModelBytes (16 MiB)
    [InlineData(768, 3, true)]    // ~21 MB: over it
    public void Only_a_model_larger_than_the_last_level_cache_streams_its_int8_weights(int dim, int layers, bool streamed)
    {
        var model = Model(dim, layers);
        var weights = ManagedModelLoader.Load(model, ModelFile.FromMetadata(model.Metadata(), "test.onnx"), ActivationPrecision.Int8);

        Assert.Equal(streamed, weights.WeightBytesPerToken > PackedInt8Matrix.CacheResidentModelBytes);
        Assert.Equal(streamed, weights.StreamsFromMemory);
        var int8 = weights.Linears().OfType<Int8Linear>().ToList();
        Assert.Equal(weights.Linears().Count(), int8.Count);
        Assert.All(int8, linear => Assert.Equal(streamed, linear.Matrix.StreamsFromMemory));
        Assert.All(int8, linear => Assert.Equal(streamed, linear.Matrix.PrefetchesNonTemporal));
    }

    [Theory]
    [InlineData(128, 2, false)]
    [InlineData(768, 3, true)]
    public void Float32_activations_prefetch_streamed_weights_non_temporally(int dim, int layers, bool streamed)
    {
        var model = Model(dim, layers);
        var weights = ManagedModelLoader.Load(model, ModelFile.FromMetadata(model.Metadata(), "test.onnx"), ActivationPrecision.Float32);

        var weightOnly = weights.Linears().OfType<WeightOnlyInt8Linear>().ToList();
        Assert.Equal(weights.Linears().Count(), weightOnly.Count);
        Assert.All(weightOnly, linear => Assert.Equal(streamed, linear.Matrix.PrefetchesNonTemporal));
    }

    private static OnnxModel Model(int dim, int layers)
    {
        var c = ModelConfig.Create(layers, dim, heads: dim / 64, contextLength: 16, shortcut: false);
        return ManagedTestModels.Build(c, TinyCheckpoint.RandomWeights(c.Validate(), seed: 3), int8: true);
    }
}
