using EdgeShortcut.Core;
using EdgeShortcut.Quantize;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Onnx;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime;

/// <summary>The ONNX Runtime backend on real tiny files: its caches, fed back step by step through
/// the IoBinding buffers, give the logits of one uncached reference pass (FORMAT.md section 4).</summary>
public sealed class OnnxRuntimeBackendTests : IDisposable
{
    private readonly TinyOnnxModel _files = new();
    public void Dispose() => _files.Dispose();

    private static readonly int[] Ids = [84, 104, 111, 117, 32, 97, 114, 116, 32, 109, 121, 32, 108, 111, 118, 101];   // 16 = n_ctx

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Prefill_chunks_and_decode_steps_match_the_reference_forward(bool shortcut)
    {
        var (path, config, weights) = _files.Write(shortcut);
        var expected = ReferenceForward.Logits(config, weights, Ids);
        using var backend = new OnnxRuntimeBackend(ModelFile.Read(path), BackendKind.Cpu, new EdgeModelOptions());
        using var seq = backend.CreateSequence();
        // Chunks of 5, 3, then single tokens: P = 0, P > 0 with T > 1, and decode.
        int[] chunks = [5, 3, 1, 1, 1, 1, 1, 1, 1, 1];
        int at = 0;
        foreach (int n in chunks)
        {
            var logits = seq.Append(Ids.AsSpan(at, n));
            at += n;
            AssertClose(expected[at - 1], logits, 1e-4f, $"after {at} tokens");
        }
        Assert.Equal(16, seq.Length);
        Assert.Throws<ArgumentException>(() => seq.Append([1]));   // n_ctx is full

        seq.Reset();
        Assert.Equal(0, seq.Length);
        AssertClose(expected[3], seq.Append(Ids.AsSpan(0, 4)), 1e-4f, "after Reset");
    }

    [Fact]
    public void Int8_files_run_and_stay_close_to_the_fp32_reference()
    {
        var (path, config, weights) = _files.Write(precision: ExportPrecision.Int8);
        var expected = ReferenceForward.Logits(config, weights, Ids);
        using var backend = new OnnxRuntimeBackend(ModelFile.Read(path), BackendKind.Cpu, new EdgeModelOptions());
        using var seq = backend.CreateSequence();
        var logits = seq.Append(Ids).ToArray();
        double nmse = Nmse(expected[^1], logits);
        Assert.True(nmse < 1e-2, $"normalized MSE int8 vs fp32 reference = {nmse:g3}");
    }

    [Fact]
    public void Load_reports_the_CPU_backend_with_its_reason_and_the_metadata()
    {
        var (path, config, _) = _files.Write();
        using var model = EdgeModel.Load(path);
        Assert.Equal(BackendKind.Cpu, model.Backend);   // no DirectML on Linux, ORT natives present
        Assert.Contains("DirectML is not available", model.BackendReason);
        Assert.Equal(config, model.Config);
        Assert.True(model.Tokenizer.SupportsText);
        Assert.Equal("fp32", model.File.Precision);
    }

    [Fact]
    public async Task Greedy_generation_equals_the_reference_argmax_continuation()
    {
        var (path, config, weights) = _files.Write(contextLength: 32);
        using var model = EdgeModel.Load(path, new EdgeModelOptions { Backend = BackendKind.Cpu });
        var ids = new List<int>(model.Tokenizer.Encode("Thou"));
        var stats = new GenerationStats();
        var text = new System.Text.StringBuilder();
        await foreach (var p in model.GenerateAsync("Thou", GenerationOptions.Greedy with { MaxNewTokens = 20 }, stats)) text.Append(p);

        var generated = new List<int>();
        for (int i = 0; i < 20; i++)
        {
            var row = ReferenceForward.Logits(config, weights, ids)[^1];
            int next = Array.IndexOf(row, row.Max());
            ids.Add(next);
            generated.Add(next);
        }
        Assert.Equal(ByteTokenizer.Decode([.. generated]), text.ToString());
        Assert.Equal(20, stats.GeneratedTokens);
    }

    [Fact]
    public async Task Several_threads_share_one_ORT_model_and_get_identical_results()
    {
        var (path, _, _) = _files.Write(contextLength: 64);
        using var model = EdgeModel.Load(path, new EdgeModelOptions { Backend = BackendKind.Cpu });
        var options = new GenerationOptions { MaxNewTokens = 40, Temperature = 0.9f, TopK = 20, Seed = 3 };
        async Task<string> One()
        {
            var sb = new System.Text.StringBuilder();
            await foreach (var p in model.GenerateAsync("To be", options)) sb.Append(p);
            return sb.ToString();
        }
        string expected = await One();
        var all = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(One)));
        Assert.All(all, r => Assert.Equal(expected, r));
    }

    [Fact]
    public async Task Sliding_window_generation_runs_past_n_ctx_on_a_real_model()
    {
        var (path, _, _) = _files.Write();   // n_ctx = 16
        using var model = EdgeModel.Load(path, new EdgeModelOptions { Backend = BackendKind.Cpu });
        var stats = new GenerationStats();
        await foreach (var _ in model.GenerateAsync("Hello", GenerationOptions.Greedy with { MaxNewTokens = 50 }, stats)) { }
        Assert.Equal(50, stats.GeneratedTokens);
        Assert.True(stats.ContextSlides >= 4);
    }

    internal static double Nmse(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double err = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++) { err += Math.Pow(actual[i] - expected[i], 2); norm += (double)expected[i] * expected[i]; }
        return err / norm;
    }

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual, float tol, string where)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int v = 0; v < expected.Length; v++)
            Assert.True(Math.Abs(expected[v] - actual[v]) < tol, $"{where}, v={v}: {actual[v]} vs {expected[v]}");
    }
}
