using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13, late tokens: once a decode step's cache outgrows L2 and comes back cold at every token (the weights
/// stream through the caches), its heads (an ordinary block's and the shortcut block's) are shared with the helper
/// thread, and every logit stays what one thread computes.</summary>
public class ParallelDecodeAttentionTests
{
    [Fact]
    public void Only_a_long_cache_of_a_model_whose_weights_stream_is_shared()
    {
        Assert.False(ParallelAttention.WorthSharing(1, 768, weightsStream: true));
        Assert.True(ParallelAttention.WorthSharing(256, 768, weightsStream: true));
        Assert.False(ParallelAttention.WorthSharing(256, 768, weightsStream: false));   // a resident model's cache stays hot
        Assert.False(ParallelAttention.WorthSharing(1 << 20, 256, weightsStream: false));
    }

    [Fact]
    public void The_backend_says_whether_the_weights_stream_by_their_bytes_per_token()
    {
        var small = ManagedAllocationTests.Wide();
        using var resident = ManagedTestModels.Engine(small, TinyCheckpoint.RandomWeights(small, seed: 2), int8: true);
        using var sequence = resident.CreateManagedSequence();
        Assert.False(sequence.WeightsStream);
        // 2 x 12 x 1024^2 int8 bytes = 24 MiB per token, beyond PackedInt8Matrix.CacheResidentModelBytes.
        var large = new ModelConfig { VocabSize = 256, ContextLength = 8, Layers = 2, Dim = 1024, Heads = 8, FeedForwardDim = 4096, Taps = [] }.Validate();
        using var streamed = ManagedTestModels.Engine(large, TinyCheckpoint.RandomWeights(large, seed: 2), int8: true);
        using var streamedSequence = streamed.CreateManagedSequence();
        Assert.True(streamedSequence.WeightsStream);
    }

    [Theory]
    [InlineData(ActivationPrecision.Int8)]
    [InlineData(ActivationPrecision.Float32)]
    public void Decoding_past_the_sharing_threshold_on_two_threads_equals_one_thread_bit_for_bit(ActivationPrecision activations)
    {
        var c = ManagedAllocationTests.Wide() with { ContextLength = 300 };   // d 256, one tap: 300 cache entries per layer
        Assert.False(ParallelAttention.WorthSharing(1, c.Dim, weightsStream: true));
        Assert.True(ParallelAttention.WorthSharing(c.ContextLength, c.Dim, weightsStream: true));   // so the shared path runs for the late tokens
        var weights = TinyCheckpoint.RandomWeights(c.Validate(), seed: 12);
        using var two = ManagedTestModels.Engine(c, weights, int8: true, activations);
        using var one = ManagedTestModels.Engine(c, weights, int8: true, activations, threads: 1);
        if (Environment.ProcessorCount > 1) Assert.True(two.UsesHelperThread);
        using var a = two.CreateManagedSequence();
        a.WeightsStream = true;   // a small model's weights stay in cache; share as a streamed model does
        using var b = one.CreateSequence();
        int token = 3;
        for (int p = 0; p < c.ContextLength; p++)
        {
            var expected = b.Append([token]).ToArray();
            Assert.Equal(expected, a.Append([token]).ToArray());
            token = (Array.IndexOf(expected, expected.Max()) + p) % c.VocabSize;
        }
    }
}
