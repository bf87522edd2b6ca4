using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13, late tokens: once a decode step's cache outgrows L2, its heads (an ordinary block's and the
/// shortcut block's) are shared with the helper thread, and every logit stays what one thread computes.</summary>
public class ParallelDecodeAttentionTests
{
    [Theory]
    [InlineData(ActivationPrecision.Int8)]
    [InlineData(ActivationPrecision.Float32)]
    public void Decoding_past_the_sharing_threshold_on_two_threads_equals_one_thread_bit_for_bit(ActivationPrecision activations)
    {
        var c = ManagedAllocationTests.Wide() with { ContextLength = 300 };   // d 256, one tap: 300 cache entries per layer
        Assert.False(ParallelAttention.WorthSharing(1, c.Dim));
        Assert.True(ParallelAttention.WorthSharing(c.ContextLength, c.Dim));   // so the shared path runs for the late tokens
        var weights = TinyCheckpoint.RandomWeights(c.Validate(), seed: 12);
        using var two = ManagedTestModels.Engine(c, weights, int8: true, activations);
        using var one = ManagedTestModels.Engine(c, weights, int8: true, activations, threads: 1);
        if (Environment.ProcessorCount > 1) Assert.True(two.UsesHelperThread);
        using var a = two.CreateSequence();
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
