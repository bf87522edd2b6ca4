using System.Text;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.Tests.Runtime;

public class GenerationTests
{
    private static async Task<List<string>> Collect(IAsyncEnumerable<string> stream)
    {
        var pieces = new List<string>();
        await foreach (var p in stream) pieces.Add(p);
        return pieces;
    }

    [Fact]
    public async Task Greedy_generation_streams_the_scripted_text_and_stops_at_max_new_tokens()
    {
        using var model = FakeBackend.Scripted("abc", promptLength: 2).ToModel();
        var stats = new GenerationStats();
        var pieces = await Collect(model.GenerateAsync("hi", GenerationOptions.Greedy with { MaxNewTokens = 7 }, stats));
        Assert.Equal("abcabca", string.Concat(pieces));
        Assert.Equal(7, stats.GeneratedTokens);
        Assert.Equal(2, stats.PromptTokens);
        Assert.Equal(FinishReason.Length, stats.FinishReason);
        Assert.True(stats.TimeToFirstToken > TimeSpan.Zero && stats.Elapsed >= stats.TimeToFirstToken);
    }

    [Fact]
    public async Task Multi_byte_characters_are_never_split_across_pieces()
    {
        const string text = "hé 世界 🎉ok";   // 2-, 3- and 4-byte characters
        using var model = FakeBackend.Scripted(text, promptLength: 1).ToModel();
        int bytes = Encoding.UTF8.GetByteCount(text);
        var pieces = await Collect(model.GenerateAsync("x", GenerationOptions.Greedy with { MaxNewTokens = bytes }));
        Assert.Equal(text, string.Concat(pieces));
        foreach (var p in pieces)
        {
            Assert.DoesNotContain('\uFFFD', p);
            Assert.True(Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(p)) == p, $"piece '{p}' is not whole characters");
        }
        Assert.Contains("🎉", pieces);   // the 4-byte emoji arrives as one piece (a surrogate pair)
    }

    [Fact]
    public async Task An_incomplete_character_at_the_end_becomes_a_replacement_character()
    {
        using var model = FakeBackend.Scripted("a世", promptLength: 1).ToModel();
        var pieces = await Collect(model.GenerateAsync("x", GenerationOptions.Greedy with { MaxNewTokens = 3 }));
        Assert.Equal("a\uFFFD", string.Concat(pieces));
    }

    [Theory]
    [InlineData("hello END world", new[] { "END" }, "hello ")]
    [InlineData("hello END world", new[] { "ENDX", "lo E" }, "hel")]          // earliest match wins
    [InlineData("abcabd", new[] { "abd" }, "abc")]                             // a false start is emitted later
    [InlineData("say 世界 now", new[] { "界" }, "say 世")]                     // multi-byte stop sequence
    [InlineData("no stop here", new[] { "zz" }, "no stop here")]
    public async Task Stop_sequences_end_the_stream_and_are_not_emitted(string script, string[] stops, string expected)
    {
        using var model = FakeBackend.Scripted(script, promptLength: 1).ToModel();
        var stats = new GenerationStats();
        var options = GenerationOptions.Greedy with { MaxNewTokens = Encoding.UTF8.GetByteCount(script), StopSequences = stops };
        var pieces = await Collect(model.GenerateAsync("x", options, stats));
        Assert.Equal(expected, string.Concat(pieces));
        Assert.Equal(expected == script ? FinishReason.Length : FinishReason.StopSequence, stats.FinishReason);
        foreach (var stop in stops) Assert.DoesNotContain(stop, string.Concat(pieces));
    }

    [Fact]
    public async Task Cancellation_mid_stream_throws_and_the_next_generation_is_unaffected()
    {
        var backend = FakeBackend.Scripted("0123456789", promptLength: 1);
        using var model = backend.ToModel();
        using var cts = new CancellationTokenSource();
        var stats = new GenerationStats();
        var seen = new StringBuilder();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var p in model.GenerateAsync("x", GenerationOptions.Greedy with { MaxNewTokens = 10 }, stats, cts.Token))
            {
                seen.Append(p);
                if (seen.Length == 3) cts.Cancel();
            }
        });
        Assert.Equal("012", seen.ToString());
        Assert.Equal(FinishReason.Cancelled, stats.FinishReason);
        Assert.Equal(backend.Sequences, backend.DisposedSequences);   // the caches were released

        var again = await Collect(model.GenerateAsync("x", GenerationOptions.Greedy with { MaxNewTokens = 10 }));
        Assert.Equal("0123456789", string.Concat(again));
    }

    [Fact]
    public async Task Sliding_window_keeps_the_last_half_of_the_context_and_never_exceeds_it()
    {
        // Next token = (sum of the context) mod 7 + 'a': depends on exactly what the window holds.
        var backend = new FakeBackend(FakeBackend.ByteConfig(16), ctx =>
        {
            var l = new float[256];
            l['a' + ctx.Sum() % 7] = 5;
            return l;
        });
        using var model = backend.ToModel();
        var stats = new GenerationStats();
        string text = string.Concat(await Collect(model.GenerateAsync("abcde", GenerationOptions.Greedy with { MaxNewTokens = 40 }, stats)));
        Assert.Equal(40, text.Length);
        Assert.True(stats.ContextSlides >= 3, $"slides: {stats.ContextSlides}");

        // Replay: the window rule is "on overflow keep the last n_ctx/2 = 8 tokens and re-prefill".
        var history = Encoding.UTF8.GetBytes("abcde").Select(b => (int)b).ToList();
        var window = new List<int>(history);
        foreach (char c in text)
        {
            Assert.Equal((char)('a' + window.Sum() % 7), c);
            history.Add(c);
            window.Add(c);
            if (window.Count > 16) window = history.TakeLast(8).ToList();
        }
        Assert.All(backend.Calls, call => Assert.True(call.Context.Length <= 16));
    }

    [Fact]
    public async Task An_oversized_prompt_keeps_its_end_under_sliding_window_and_throws_under_error()
    {
        var backend = FakeBackend.Scripted("z", promptLength: 0, contextLength: 16);
        using var model = backend.ToModel();
        string prompt = new string('p', 30) + "TAIL1234";
        await Collect(model.GenerateAsync(prompt, GenerationOptions.Greedy with { MaxNewTokens = 2 }));
        var first = backend.Calls.First();
        Assert.Equal("TAIL1234", Encoding.ASCII.GetString([.. first.Context.Select(t => (byte)t)]));

        var error = GenerationOptions.Greedy with { ContextOverflow = ContextOverflowPolicy.Error };
        var ex = Assert.Throws<ContextOverflowException>(() => model.GenerateAsync(prompt, error));
        Assert.Equal(38, ex.Tokens);
        Assert.Equal(16, ex.ContextLength);
    }

    [Fact]
    public async Task Error_policy_throws_at_the_first_token_that_does_not_fit_and_stop_policy_stops()
    {
        using var model = FakeBackend.Scripted("abcdefghijklmnopqrstuvwxyz", promptLength: 10, contextLength: 16).ToModel();
        var seen = new StringBuilder();
        await Assert.ThrowsAsync<ContextOverflowException>(async () =>
        {
            await foreach (var p in model.GenerateAsync(new string('x', 10), GenerationOptions.Greedy with { ContextOverflow = ContextOverflowPolicy.Error, MaxNewTokens = 20 }))
                seen.Append(p);
        });
        Assert.Equal("abcdefg", seen.ToString());   // 10 + 6 tokens fill the context; the 7th token is sampled from it

        var stats = new GenerationStats();
        var text = string.Concat(await Collect(model.GenerateAsync(new string('x', 10), GenerationOptions.Greedy with { ContextOverflow = ContextOverflowPolicy.Stop, MaxNewTokens = 20 }, stats)));
        Assert.Equal("abcdefg", text);
        Assert.Equal(FinishReason.ContextFull, stats.FinishReason);
    }

    [Fact]
    public void An_empty_or_null_prompt_is_rejected_clearly()
    {
        using var model = FakeBackend.Scripted("a", 1).ToModel();
        var ex = Assert.Throws<ArgumentException>(() => model.GenerateAsync(""));
        Assert.Equal("prompt", ex.ParamName);
        Assert.Throws<ArgumentNullException>(() => model.GenerateAsync(null!));
    }

    public static TheoryData<GenerationOptions, string> InvalidOptions => new()
    {
        { new() { MaxNewTokens = 0 }, "MaxNewTokens" },
        { new() { Temperature = -0.1f }, "Temperature" },
        { new() { Temperature = float.NaN }, "Temperature" },
        { new() { TopK = -1 }, "TopK" },
        { new() { TopP = 0 }, "TopP" },
        { new() { TopP = 1.5f }, "TopP" },
        { new() { RepetitionPenalty = 0 }, "RepetitionPenalty" },
        { new() { RepetitionWindow = -3 }, "RepetitionWindow" },
        { new() { StopSequences = ["ok", ""] }, "StopSequences" },
        { new() { StopSequences = null! }, "StopSequences" },
        { new() { ContextOverflow = (ContextOverflowPolicy)42 }, "ContextOverflow" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Invalid_options_name_the_option(GenerationOptions options, string name)
    {
        using var model = FakeBackend.Scripted("a", 1).ToModel();
        var ex = Assert.Throws<ArgumentException>(() => model.GenerateAsync("hi", options));
        Assert.Equal(name, ex.ParamName);
        Assert.Contains(name, ex.Message);
        Assert.Throws<ArgumentException>(() => model.CreateGenerator(options));
    }

    [Fact]
    public async Task Several_threads_generate_on_one_model_at_once_with_the_same_results()
    {
        using var model = FakeBackend.Scripted("the quick brown fox ", promptLength: 3, secondsPerToken: 1e-5).ToModel();
        var options = new GenerationOptions { Temperature = 0.7f, MaxNewTokens = 60, Seed = 9 };
        string expected = string.Concat(await Collect(model.GenerateAsync("abc", options)));
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () => string.Concat(await Collect(model.GenerateAsync("abc", options))))));
        Assert.All(results, r => Assert.Equal(expected, r));
    }
}
