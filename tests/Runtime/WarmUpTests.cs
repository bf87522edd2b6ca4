using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime;

public class WarmUpTests
{
    private static string DefaultModel => Path.Combine(RepoPaths.Root(), "models", "default.onnx");

    private static async Task<string> Text(EdgeModel model, string prompt, GenerationOptions options)
    {
        var text = new System.Text.StringBuilder();
        await foreach (var piece in model.GenerateAsync(prompt, options)) text.Append(piece);
        return text.ToString();
    }

    [Fact]
    public async Task Warm_up_runs_a_prompt_chunk_and_forty_tokens_on_a_sequence_of_its_own_then_frees_it()
    {
        var backend = FakeBackend.Scripted("abc", promptLength: ModelWarmUp.PromptTokens);
        using var model = backend.ToModel();
        await model.WarmUpAsync();
        Assert.Equal(1, backend.Sequences);
        Assert.Equal(1, backend.DisposedSequences);
        var calls = backend.Calls.ToArray();
        Assert.Equal(ModelWarmUp.PromptTokens, calls[0].Chunk);                 // one batched prefill
        Assert.All(calls[1..], c => Assert.Equal(1, c.Chunk));                  // then one token per step
        Assert.Equal(ModelWarmUp.Tokens - 1, calls.Length - 1);                 // the last sampled token is never run
    }

    [Fact]
    public async Task Warm_up_fits_a_small_context_by_sliding_the_window()
    {
        var backend = FakeBackend.Scripted("abc", promptLength: 4, contextLength: 8);   // the fake asserts every call fits
        using var model = backend.ToModel();
        await model.WarmUpAsync();
        Assert.Equal(4, backend.Calls.First().Chunk);   // half the context
        Assert.Equal(1, backend.DisposedSequences);
    }

    [Fact]
    public async Task Warm_up_of_a_model_without_text_feeds_token_ids()
    {
        var backend = FakeBackend.Scripted("abc", promptLength: ModelWarmUp.PromptTokens);
        using var model = new EdgeModel(new ModelFileInfo("ids.onnx", backend.Config, new TokenizerSpec(TokenizerSpec.TokenFileKind, 256), "int8"), backend, "test");
        await model.WarmUpAsync();
        Assert.Equal([.. Enumerable.Range(0, ModelWarmUp.PromptTokens)], backend.Calls.First().Context);
    }

    [Fact]
    public async Task Warm_up_stops_between_tokens_when_cancelled_and_frees_its_sequence()
    {
        using var cts = new CancellationTokenSource();
        int steps = 0;
        var backend = new FakeBackend(FakeBackend.ByteConfig(), _ =>
        {
            if (++steps == 3) cts.Cancel();   // during the third model call
            return new float[256];
        });
        using var model = backend.ToModel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => model.WarmUpAsync(cts.Token));
        Assert.Equal(3, backend.Calls.Count);
        Assert.Equal(1, backend.DisposedSequences);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => model.WarmUpAsync(cts.Token));   // cancelled before it starts
        Assert.Equal(3, backend.Calls.Count);
    }

    [Fact]
    public void Warm_up_of_a_disposed_model_throws()
    {
        var model = FakeBackend.Scripted("abc", promptLength: 1).ToModel();
        model.Dispose();
        Assert.Throws<ObjectDisposedException>(() => { _ = model.WarmUpAsync(); });
    }

    [Fact]
    public async Task A_warmed_up_model_generates_the_same_text_as_a_cold_one()
    {
        var options = new GenerationOptions { MaxNewTokens = 60, Seed = 7 };
        using var cold = EdgeModel.Load(DefaultModel, new EdgeModelOptions { Backend = BackendKind.Managed });
        string expected = await Text(cold, "ROMEO:", options);
        using var warm = EdgeModel.Load(DefaultModel, new EdgeModelOptions { Backend = BackendKind.Managed });
        await warm.WarmUpAsync();
        Assert.Equal(expected, await Text(warm, "ROMEO:", options));
        // A warm-up while a generation runs on the same model changes nothing either.
        var during = Text(warm, "ROMEO:", options);
        await Task.WhenAll(warm.WarmUpAsync(), during);
        Assert.Equal(expected, await during);
    }
}
