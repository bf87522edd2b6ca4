using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13: prefill runs as a GEMM (token-tiled kernels) with its attention shared by two threads, and still
/// gives exactly the logits of token-by-token decode, on a model wide enough for the two-thread path, in both
/// activation modes, trunk and shortcut block alike.</summary>
public class PrefillGemmTests
{
    [Theory]
    [InlineData(ActivationPrecision.Int8, true)]
    [InlineData(ActivationPrecision.Float32, true)]
    [InlineData(ActivationPrecision.Int8, false)]
    [InlineData(ActivationPrecision.Float32, false)]
    public void A_prefill_on_one_or_two_threads_equals_token_by_token_decode_bit_for_bit(ActivationPrecision activations, bool shortcut)
    {
        // Two chunks: a full one and a short one, both past TokenParallel's threshold, so every per-token pass runs on two threads.
        int length = EdgeShortcut.Runtime.Managed.RunState.MaxChunkTokens + 22;
        var c = ManagedAllocationTests.Wide() with { ContextLength = length + 10, Taps = shortcut ? [1] : [] };
        var weights = TinyCheckpoint.RandomWeights(c.Validate(), seed: 9);
        using var two = ManagedTestModels.Engine(c, weights, int8: true, activations);
        using var one = ManagedTestModels.Engine(c, weights, int8: true, activations, threads: 1);
        if (Environment.ProcessorCount > 1) Assert.True(two.UsesHelperThread);
        var prompt = Enumerable.Range(0, length).Select(i => (i * 37 + 5) % 256).ToArray();
        using var whole = two.CreateSequence();
        using var single = one.CreateSequence();
        var a = whole.Append(prompt).ToArray();
        var parallel = ((EdgeShortcut.Runtime.Managed.ManagedSequence)whole).Parallel;
        Assert.Equal(Environment.ProcessorCount > 1, parallel is not null);
        Assert.False(parallel is { InBurst: true });   // the prefill's burst ended with it: decode's helper sleeps between jobs
        float[] b = [];
        foreach (int t in prompt) b = single.Append([t]).ToArray();
        Assert.Equal(b, a);
        using var wholeOnOne = one.CreateSequence();   // the same tiles and attention blocks without the helper thread
        Assert.Equal(b, wholeOnOne.Append(prompt).ToArray());
        Assert.Equal(single.Append([42]).ToArray(), whole.Append([42]).ToArray());
    }

    [Theory]
    [InlineData(ActivationPrecision.Int8)]
    [InlineData(ActivationPrecision.Float32)]
    public void A_prefill_whose_last_block_feeds_no_tap_equals_token_by_token_decode_at_each_depth(ActivationPrecision activations)
    {
        // Ordinary blocks 1..3, tap {1}: neither the full depth nor the exit at 2 ends on a tapped block, so the prefill runs
        // that block for the cache and the last token's row alone (PrefillRows.Last), and for the cache alone in the first
        // of two chunks, which wants no logits (PrefillRows.None). The plain models above take the same path.
        var c = (TinyCheckpoint.Config() with { Layers = 4, Taps = [1], ExitDepths = [2], ContextLength = 300 }).Validate();
        var weights = TinyCheckpoint.RandomWeights(c, seed: 12);
        using var engine = ManagedTestModels.Engine(c, weights, int8: true, activations);
        var prompt = Enumerable.Range(0, EdgeShortcut.Runtime.Managed.RunState.MaxChunkTokens + 24).Select(i => (i * 29 + 7) % 256).ToArray();
        foreach (int depth in new[] { 2, 3 })
        {
            using var whole = engine.CreateManagedSequence();
            using var single = engine.CreateManagedSequence();
            var a = whole.AppendAtDepth(prompt, depth).ToArray();
            float[] b = [];
            foreach (int t in prompt) b = single.AppendAtDepth([t], depth).ToArray();
            Assert.Equal(b, a);
            // Every token's keys and values went to the cache: the next token sees the same past.
            Assert.Equal(single.AppendAtDepth([42], depth).ToArray(), whole.AppendAtDepth([42], depth).ToArray());
        }
    }

    [Fact]
    public void A_prefill_after_shallow_tokens_hides_their_keys_as_token_by_token_decode_does()
    {
        // Tokens that exited early left hidden keys and entries (masks); a chunk of 20 tokens after them runs the prefill
        // stages (PrefillBlock) and must mask exactly as 20 single-token appends do.
        var c = (TinyCheckpoint.Config() with { Layers = 4, Taps = [1, 3], ExitDepths = [1, 2], ContextLength = 64 }).Validate();
        var weights = TinyCheckpoint.RandomWeights(c, seed: 21);
        using var engine = ManagedTestModels.Engine(c, weights, int8: true, ActivationPrecision.Int8);
        var chunk = Enumerable.Range(0, 20).Select(i => (i * 53 + 11) % 256).ToArray();
        Assert.True(chunk.Length >= EdgeShortcut.Runtime.Managed.TokenParallel.MinSharedTokens);
        float[] Run(bool wholeChunk)
        {
            using var s = engine.CreateManagedSequence();
            s.UseMasks = true;
            s.AppendAdaptive(5, 0f, out int shallow, default);
            s.AppendAdaptive(200, 2f, out int deep, default);
            Assert.Equal((1, 3), (shallow, deep));
            if (wholeChunk) return s.Append(chunk).ToArray();
            float[] last = [];
            foreach (int t in chunk) last = s.Append([t]).ToArray();
            return last;
        }
        Assert.Equal(Run(wholeChunk: false), Run(wholeChunk: true));
    }
}
