using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Steady-state decode allocates nothing, on the single-thread and the two-thread path.</summary>
public class ManagedAllocationTests
{
    /// <summary>Big enough that the MLP matrices (1024 x 256 = 2^18) take the two-thread path.</summary>
    internal static ModelConfig Wide() => new ModelConfig
    {
        VocabSize = 256, ContextLength = 32, Layers = 2, Dim = 256, Heads = 4,
        FeedForwardDim = 1024, FeatureDim = 1024, Taps = [1],
    }.Validate();

    private static long AllocatedPerToken(ManagedBackend engine)
    {
        using var s = engine.CreateSequence();
        int[] tokens = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160];
        s.Append(tokens.AsSpan(0, 4));                              // prefill + JIT warm-up
        for (int i = 4; i < 8; i++) s.Append(tokens.AsSpan(i, 1));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 8; i < 16; i++) s.Append(tokens.AsSpan(i, 1));
        return (GC.GetAllocatedBytesForCurrentThread() - before) / 8;
    }

    [Theory]
    [InlineData(true, true, ActivationPrecision.Int8)]
    [InlineData(true, true, ActivationPrecision.Float32)]
    [InlineData(true, false, ActivationPrecision.Float32)]
    [InlineData(false, true, ActivationPrecision.Int8)]
    [InlineData(false, true, ActivationPrecision.Float32)]
    public void Decode_allocates_zero_bytes_per_token_on_tiny_models(bool shortcut, bool int8, ActivationPrecision activations)
    {
        var c = ManagedTestModels.Tiny(shortcut);
        using var engine = ManagedTestModels.Engine(c, TinyCheckpoint.RandomWeights(c, seed: 1), int8, activations);
        Assert.False(engine.UsesHelperThread);
        Assert.Equal(0, AllocatedPerToken(engine));
    }

    [Theory]
    [InlineData(ActivationPrecision.Int8)]
    [InlineData(ActivationPrecision.Float32)]
    public void Decode_allocates_zero_bytes_per_token_when_matrices_are_split_across_threads(ActivationPrecision activations)
    {
        if (Environment.ProcessorCount < 2) return;   // the helper thread exists only with a second core
        var c = Wide();
        using var engine = ManagedTestModels.Engine(c, TinyCheckpoint.RandomWeights(c, seed: 1), int8: true, activations);
        Assert.True(engine.UsesHelperThread);
        Assert.Equal(0, AllocatedPerToken(engine));
    }
}
