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

    /// <summary>Bytes allocated per window of two decoded tokens (tokens 8-15: the tiny models hold 16), after a prefill and
    /// four warm-up tokens.</summary>
    private static long[] AllocatedPerWindow(ManagedBackend engine)
    {
        using var s = engine.CreateSequence();
        s.Append([10, 20, 30, 40]);                                 // prefill + JIT warm-up
        for (int i = 4; i < 8; i++) s.Append([i * 10 + 10]);
        return SteadyStateAllocations.PerWindow(i => s.Append([(i * 10 + 90) % 256]), windows: 4, stepsPerWindow: 2);
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
        SteadyStateAllocations.AssertNoneBeyondOneWindow(AllocatedPerWindow(engine));
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
        SteadyStateAllocations.AssertNoneBeyondOneWindow(AllocatedPerWindow(engine));
    }
}
