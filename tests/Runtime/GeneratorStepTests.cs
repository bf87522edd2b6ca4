using System.Diagnostics;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.Tests.Runtime;

public class GeneratorStepTests
{
    [Fact]
    public void AppendTokens_then_NextToken_prefills_once_and_then_decodes_one_token_per_call()
    {
        var backend = FakeBackend.Scripted("xyz", promptLength: 4);
        using var model = backend.ToModel();
        using var gen = model.CreateGenerator(GenerationOptions.Greedy);
        gen.AppendText("abcd");
        Assert.Equal(4, gen.PendingTokens);
        Assert.Equal('x', gen.NextToken());
        Assert.Equal('y', gen.NextToken());
        Assert.Equal('z', gen.NextToken());
        Assert.Equal([4, 1, 1], backend.Calls.Select(c => c.Chunk));
        Assert.Equal(6, gen.CachedTokens);
        Assert.Equal(1, gen.PendingTokens);
        Assert.Equal("abcdxyz", model.Tokenizer.Decode(gen.Tokens));
    }

    [Fact]
    public void A_time_budget_splits_prefill_into_chunks_that_fit_it_and_resumes_next_call()
    {
        const double costPerToken = 0.0005;               // 0.5 ms per token, busy-waited
        var budget = TimeSpan.FromMilliseconds(10);       // fits ~20 tokens
        var backend = FakeBackend.Scripted("!", promptLength: 120, secondsPerToken: costPerToken);
        using var model = backend.ToModel();
        using var gen = model.CreateGenerator(GenerationOptions.Greedy);
        gen.AppendTokens([.. Enumerable.Repeat((int)'a', 120)]);

        int calls = 0, token;
        while (!gen.TryNextToken(out token, budget))
        {
            calls++;
            Assert.Equal(-1, token);
            Assert.True(calls < 120, "no progress");
        }
        Assert.Equal('!', token);
        Assert.True(calls >= 2, $"a 60 ms prefill under a 10 ms budget took {calls + 1} calls");
        Assert.Equal(120, backend.Calls.Sum(c => c.Chunk));
        // The measured cost is never below the real cost, so no chunk is planned beyond the budget.
        Assert.All(backend.Calls, c => Assert.True(c.Chunk <= budget.TotalSeconds / costPerToken, $"chunk of {c.Chunk} tokens"));
        Assert.Contains(backend.Calls, c => c.Chunk > 1);
    }

    [Fact]
    public void A_zero_budget_still_makes_progress_one_chunk_per_call()
    {
        var backend = FakeBackend.Scripted("!", promptLength: 5);
        using var model = backend.ToModel();
        using var gen = model.CreateGenerator(GenerationOptions.Greedy);
        gen.AppendText("hello");
        int calls = 1;
        while (!gen.TryNextToken(out _, TimeSpan.Zero)) calls++;
        Assert.InRange(calls, 1, 5);
        Assert.Equal(5, gen.CachedTokens);
    }

    [Fact]
    public void NextToken_without_a_prompt_and_bad_tokens_are_clear_errors()
    {
        using var model = FakeBackend.Scripted("!", promptLength: 1).ToModel();
        using var gen = model.CreateGenerator();
        Assert.Throws<InvalidOperationException>(() => gen.NextToken());
        Assert.Throws<ArgumentOutOfRangeException>(() => gen.AppendTokens([65, 256]));
        Assert.Throws<ArgumentOutOfRangeException>(() => gen.AppendTokens([-1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => gen.TryNextToken(out _, TimeSpan.FromMilliseconds(-1)));
    }

    [Fact]
    public void Reset_starts_over_and_dispose_releases_the_sequence()
    {
        var backend = FakeBackend.Scripted("ab", promptLength: 1);
        using var model = backend.ToModel();
        var gen = model.CreateGenerator(GenerationOptions.Greedy);
        gen.AppendText("q");
        Assert.Equal('a', gen.NextToken());
        gen.Reset();
        Assert.Equal(0, gen.CachedTokens + gen.PendingTokens);
        gen.AppendText("q");
        Assert.Equal('a', gen.NextToken());
        gen.Dispose();
        Assert.Equal(1, backend.DisposedSequences);
        Assert.Throws<ObjectDisposedException>(() => gen.NextToken());
    }

    [Fact]
    public void Under_the_error_policy_appending_past_the_context_throws_before_any_model_call()
    {
        var backend = FakeBackend.Scripted("!", promptLength: 1, contextLength: 16);
        using var model = backend.ToModel();
        using var gen = model.CreateGenerator(GenerationOptions.Greedy with { ContextOverflow = ContextOverflowPolicy.Error });
        gen.AppendTokens(new int[10]);
        Assert.Throws<ContextOverflowException>(() => gen.AppendTokens(new int[7]));
        Assert.Empty(backend.Calls);
    }
}
