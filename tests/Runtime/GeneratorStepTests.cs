using System.Diagnostics;
using EdgeShortcut.Core;
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

    [Fact]
    public void Generator_stops_at_MaxNewTokens_and_a_call_after_done_throws()
    {
        using var model = FakeBackend.Scripted("abcdefgh", promptLength: 1).ToModel();
        using var gen = model.CreateGenerator(GenerationOptions.Greedy with { MaxNewTokens = 3 });
        gen.AppendText("q");
        Assert.Equal('a', gen.NextToken());
        Assert.Equal('b', gen.NextToken());
        Assert.False(gen.IsDone);
        Assert.Equal(FinishReason.None, gen.FinishReason);
        Assert.Equal("ab", gen.TakeText());
        Assert.Equal('c', gen.NextToken());
        Assert.True(gen.IsDone);
        Assert.Equal(FinishReason.Length, gen.FinishReason);
        Assert.Equal(3, gen.GeneratedTokens);
        Assert.Equal("c", gen.TakeText());
        Assert.Equal("", gen.TakeText());

        var ex = Assert.Throws<InvalidOperationException>(() => gen.NextToken());
        Assert.Contains("done", ex.Message);
        Assert.Throws<InvalidOperationException>(() => gen.TryNextToken(out _, TimeSpan.FromSeconds(1)));
        Assert.Equal("qabc", model.Tokenizer.Decode(gen.Tokens));   // nothing was sampled after done
    }

    [Fact]
    public void Generator_stops_at_a_stop_sequence_and_does_not_return_it()
    {
        using var model = FakeBackend.Scripted("hello END world", promptLength: 1).ToModel();
        using var gen = model.CreateGenerator(GenerationOptions.Greedy with { MaxNewTokens = 100, StopSequences = ["END"] });
        gen.AppendText("q");
        var text = new System.Text.StringBuilder();
        while (!gen.IsDone)
        {
            gen.NextToken();
            text.Append(gen.TakeText());
        }
        Assert.Equal("hello ", text.ToString());
        Assert.Equal(FinishReason.StopSequence, gen.FinishReason);
        Assert.Equal(9, gen.GeneratedTokens);                          // "hello END": the stop tokens were sampled...
        Assert.Equal("qhello END", model.Tokenizer.Decode(gen.Tokens)); // ...and stay in the context
        Assert.Throws<InvalidOperationException>(() => gen.NextToken());
    }

    [Fact]
    public void Text_held_back_for_a_stop_sequence_is_released_when_the_length_limit_ends_the_response()
    {
        using var model = FakeBackend.Scripted("abcE", promptLength: 1).ToModel();
        using var gen = model.CreateGenerator(GenerationOptions.Greedy with { MaxNewTokens = 4, StopSequences = ["EN"] });
        gen.AppendText("q");
        for (int i = 0; i < 3; i++) gen.NextToken();
        Assert.Equal("abc", gen.TakeText());
        gen.NextToken();                       // 'E' could begin "EN": held back until the response ends
        Assert.Equal(FinishReason.Length, gen.FinishReason);
        Assert.Equal("E", gen.TakeText());
    }

    [Fact]
    public void Appending_after_done_starts_the_next_response_on_the_same_caches()
    {
        var backend = FakeBackend.Scripted("xyxyxyxy", promptLength: 1);
        using var model = backend.ToModel();
        using var gen = model.CreateGenerator(GenerationOptions.Greedy with { MaxNewTokens = 2 });
        gen.AppendText("q");
        gen.NextToken();
        gen.NextToken();
        Assert.True(gen.IsDone);
        Assert.Equal("xy", gen.TakeText());
        gen.AppendText("!");
        Assert.False(gen.IsDone);
        Assert.Equal((0, FinishReason.None), (gen.GeneratedTokens, gen.FinishReason));
        gen.NextToken();
        gen.NextToken();
        Assert.Equal(FinishReason.Length, gen.FinishReason);
        Assert.Equal("yx", gen.TakeText());
        Assert.Equal("qxy!yx", model.Tokenizer.Decode(gen.Tokens));
        Assert.Equal([1, 1, 2, 1], backend.Calls.Select(c => c.Chunk));   // the caches were kept: only "y!" ran again
    }

    [Fact]
    public void The_stop_policy_ends_the_response_when_the_context_is_full()
    {
        using var model = FakeBackend.Scripted("abcdefgh", promptLength: 6, contextLength: 8).ToModel();
        using var gen = model.CreateGenerator(GenerationOptions.Greedy with { ContextOverflow = ContextOverflowPolicy.Stop });
        gen.AppendText("prompt");
        while (!gen.IsDone) gen.NextToken();
        Assert.Equal(FinishReason.ContextFull, gen.FinishReason);
        Assert.Equal("abc", gen.TakeText());   // 6 + 2 tokens fill n_ctx 8; the third is sampled from them
        Assert.Throws<InvalidOperationException>(() => gen.NextToken());
    }

    [Fact]
    public void Stop_sequences_on_a_model_without_text_are_rejected_and_its_text_cannot_be_taken()
    {
        var backend = FakeBackend.Scripted("a", promptLength: 1);
        using var model = new EdgeModel(new ModelFileInfo("ids.onnx", backend.Config, new TokenizerSpec(TokenizerSpec.TokenFileKind, 256), "int8"), backend, "test");
        var ex = Assert.Throws<ArgumentException>(() => model.CreateGenerator(new GenerationOptions { StopSequences = ["x"] }));
        Assert.Equal("StopSequences", ex.ParamName);
        Assert.Equal(backend.Sequences, backend.DisposedSequences);
        using var gen = model.CreateGenerator(GenerationOptions.Greedy with { MaxNewTokens = 1 });
        gen.AppendTokens([1]);
        gen.NextToken();
        Assert.Equal(FinishReason.Length, gen.FinishReason);
        Assert.Throws<NotSupportedException>(() => gen.TakeText());
    }
}
