using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Cache behaviour of managed sequences: prefill = decode, reset, independence, limits.</summary>
public class ManagedSequenceTests
{
    private static readonly int[] Tokens = [5, 200, 33, 33, 17, 0, 255, 128, 64, 9, 90, 91];

    private static ManagedBackend Engine(bool shortcut = true, bool int8 = true, ActivationPrecision? activations = null)
    {
        var c = ManagedTestModels.Tiny(shortcut);
        return ManagedTestModels.Engine(c, TinyCheckpoint.RandomWeights(c, seed: 3), int8, activations);
    }

    [Theory]
    [InlineData(true, ActivationPrecision.Int8)]
    [InlineData(false, ActivationPrecision.Int8)]
    [InlineData(true, ActivationPrecision.Float32)]
    [InlineData(false, ActivationPrecision.Float32)]
    public void Prefill_in_one_call_in_chunks_or_token_by_token_gives_identical_logits(bool shortcut, ActivationPrecision activations)
    {
        using var engine = Engine(shortcut, activations: activations);
        using var whole = engine.CreateSequence();
        using var chunks = engine.CreateSequence();
        using var single = engine.CreateSequence();
        var a = whole.Append(Tokens).ToArray();
        chunks.Append(Tokens.AsSpan(0, 5));
        chunks.Append(Tokens.AsSpan(5, 1));
        var b = chunks.Append(Tokens.AsSpan(6)).ToArray();
        float[] c = [];
        foreach (int t in Tokens) c = single.Append([t]).ToArray();
        Assert.Equal(a, b);
        Assert.Equal(a, c);
        Assert.Equal(Tokens.Length, whole.Length);
    }

    [Theory]
    [InlineData(true, true, ActivationPrecision.Int8)]
    [InlineData(false, true, ActivationPrecision.Int8)]
    [InlineData(true, true, ActivationPrecision.Float32)]
    [InlineData(false, true, ActivationPrecision.Float32)]
    [InlineData(true, false, ActivationPrecision.Float32)]
    public void Prefill_across_several_chunks_equals_token_by_token_decode(bool shortcut, bool int8, ActivationPrecision activations)
    {
        // n_ctx 80 > the 32-token prefill chunk: a 75-token append runs as 32 + 32 + 11.
        var c = ManagedTestModels.Tiny(shortcut) with { ContextLength = 80 };
        using var engine = ManagedTestModels.Engine(c, TinyCheckpoint.RandomWeights(c, seed: 4), int8, activations);
        var prompt = Enumerable.Range(0, 75).Select(i => (i * 53 + 11) % 256).ToArray();
        using var whole = engine.CreateSequence();
        using var single = engine.CreateSequence();
        var a = whole.Append(prompt).ToArray();
        float[] b = [];
        foreach (int t in prompt) b = single.Append([t]).ToArray();
        Assert.Equal(b, a);
        // And both continue identically from there.
        Assert.Equal(single.Append([42]).ToArray(), whole.Append([42]).ToArray());
    }

    [Fact]
    public void Reset_starts_over_and_sequences_do_not_share_caches()
    {
        using var engine = Engine();
        using var s1 = engine.CreateSequence();
        using var s2 = engine.CreateSequence();
        var first = s1.Append(Tokens).ToArray();
        // Interleave another sequence with different tokens, then redo s1 from scratch.
        s2.Append([1, 2, 3]);
        s1.Reset();
        Assert.Equal(0, s1.Length);
        s2.Append([4]);
        Assert.Equal(first, s1.Append(Tokens).ToArray());
        // And the logits really depend on the context (a broken cache would often make them equal).
        s2.Reset();
        Assert.NotEqual(first, s2.Append(Tokens.AsSpan(1)).ToArray());
    }

    [Fact]
    public void Sequences_on_several_threads_agree_with_a_single_threaded_run()
    {
        using var engine = Engine();
        float[] expected;
        using (var s = engine.CreateSequence()) expected = s.Append(Tokens).ToArray();
        var results = new float[4][];
        Parallel.For(0, 4, i =>
        {
            using var s = engine.CreateSequence();
            for (int rep = 0; rep < 20; rep++)
            {
                s.Reset();
                foreach (int t in Tokens) results[i] = s.Append([t]).ToArray();
            }
        });
        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void Filling_the_context_works_and_one_more_token_is_refused_without_changing_state()
    {
        using var engine = Engine();
        using var s = engine.CreateSequence();
        int n = engine.Config.ContextLength;
        var full = Enumerable.Range(0, n).Select(i => (i * 37) % 256).ToArray();
        var logits = s.Append(full).ToArray();
        Assert.Equal(n, s.Length);
        var e = Assert.Throws<ArgumentException>(() => s.Append([1]));
        Assert.Contains("n_ctx", e.Message);
        Assert.Equal(n, s.Length);
        s.Reset();
        Assert.Equal(logits, s.Append(full).ToArray());
    }

    [Fact]
    public void Invalid_tokens_and_empty_appends_are_refused_before_any_position_is_consumed()
    {
        using var engine = Engine();
        using var s = engine.CreateSequence();
        s.Append([1, 2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Append([3, 256]));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Append([-1]));
        Assert.Throws<ArgumentException>(() => s.Append([]));
        Assert.Equal(2, s.Length);
    }

    [Fact]
    public void Disposed_backends_and_sequences_refuse_work()
    {
        var engine = Engine();
        var s = engine.CreateSequence();
        s.Append([1]);
        engine.Dispose();
        Assert.Throws<ObjectDisposedException>(() => engine.CreateSequence());
        Assert.Throws<ObjectDisposedException>(() => s.Append([2]));
        s.Dispose();
        Assert.Throws<ObjectDisposedException>(() => s.Append([2]));
    }
}
