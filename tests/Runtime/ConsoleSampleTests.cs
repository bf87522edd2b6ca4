using System.Diagnostics;
using System.Text.Json;

namespace EdgeShortcut.Tests.Runtime;

/// <summary>The console sample as a user runs it (a child process on a real tiny model): exit codes,
/// one-line errors without stack traces, streamed text, the summary line, interactive mode and the
/// bench's JSON line.</summary>
public sealed class ConsoleSampleTests : IDisposable
{
    private readonly TinyOnnxModel _files = new();
    public void Dispose() => _files.Dispose();

    internal static (int Exit, string Out, string Err) Run(string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EdgeShortcut.Console.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(120_000), "the console sample did not finish in 2 minutes");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    internal static void AssertCleanError(int exit, string err, string expected, int code = 1)
    {
        Assert.Equal(code, exit);
        Assert.StartsWith("error: ", err);
        Assert.Contains(expected, err);
        Assert.DoesNotContain("   at ", err);   // no stack trace
    }

    [Fact]
    public void A_missing_model_file_is_one_error_line()
    {
        var (exit, _, err) = Run(null, "--model", _files.PathOf("missing.onnx"), "ROMEO:");
        AssertCleanError(exit, err, "model file not found");
    }

    [Fact]
    public void A_bad_option_names_the_flag()
    {
        var (path, _, _) = _files.Write();
        var (exit, _, err) = Run(null, "--model", path, "--top-p", "1.5", "x");
        AssertCleanError(exit, err, "--top-p", code: 2);   // a bad flag value is a usage error
        var (exit2, _, err2) = Run(null, "--model", path, "--backend", "directml", "x");
        AssertCleanError(exit2, err2, "DirectML");
        Assert.NotEqual(0, Run(null, "--model", path, "--max-new-tokens", "many", "x").Exit);
    }

    [Fact]
    public void A_prompt_streams_a_continuation_and_ends_with_backend_speed_and_first_token_time()
    {
        var (path, _, _) = _files.Write(contextLength: 64);
        var (exit, output, err) = Run(null, "--model", path, "--temperature", "0", "--max-new-tokens", "20", "ROMEO:");
        Assert.Equal(0, exit);
        Assert.StartsWith("ROMEO:", output);
        Assert.Matches(@"-- backend cpu \(.*\), float32 activations, \d+ threads; 20 tokens, [\d.]+ tokens/s, time to first token [\d.]+ ms", err);

        var (exitManaged, outputManaged, errManaged) = Run(null, "--model", path, "--backend", "managed", "-t", "0", "-n", "20", "ROMEO:");
        Assert.Equal(0, exitManaged);
        Assert.Equal(output, outputManaged);   // same greedy text on the other engine
        Assert.Contains("-- backend managed", errManaged);

        var (exitInt8, outputInt8, errInt8) = Run(null, "--model", path, "--backend", "managed", "--activations", "int8", "-t", "0", "-n", "20", "ROMEO:");
        Assert.Equal(0, exitInt8);
        Assert.StartsWith("ROMEO:", outputInt8);
        Assert.Contains("int8 activations", errInt8);
        var (exitBad, _, errBad) = Run(null, "--model", path, "--activations", "int4", "ROMEO:");
        Assert.NotEqual(0, exitBad);
        Assert.Contains("int4", errBad);
    }

    [Theory]
    [InlineData("bfloat16", "BFloat16")]
    [InlineData("int8", "Int8")]
    public void A_narrow_cache_runs_on_the_managed_engine_and_an_explicit_ONNX_Runtime_backend_refuses_it(string option, string name)
    {
        var (path, _, _) = _files.Write(contextLength: 64);
        var (exit, output, err) = Run(null, "--model", path, "--kv-cache", option, "-t", "0", "-n", "20", "ROMEO:");
        Assert.Equal(0, exit);
        Assert.StartsWith("ROMEO:", output);
        Assert.Contains($"-- backend managed (managed engine: KeyValueCache = {name} is a managed-engine option", err);
        var (exitCpu, _, errCpu) = Run(null, "--model", path, "--kv-cache", option, "--backend", "cpu", "ROMEO:");
        Assert.Equal(1, exitCpu);
        Assert.Contains("use Backend = Managed or Auto", errCpu);
        Assert.Equal(2, Run(null, "--model", path, "--kv-cache", "half", "ROMEO:").Exit);
    }

    [Fact]
    public void Without_a_prompt_it_reads_prompts_until_end_of_input()
    {
        var (path, _, _) = _files.Write(contextLength: 64);
        var (exit, output, err) = Run("To be\n\nor not\n", "--model", path, "-t", "0", "-n", "5");
        Assert.Equal(0, exit);
        Assert.Contains("Interactive mode", err);
        Assert.Equal(2, err.Split("-- backend").Length - 1);   // two prompts, the empty line skipped
        Assert.Equal(2, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Bench_json_reports_every_available_backend_on_its_last_line()
    {
        var (path, _, _) = _files.Write(contextLength: 64);
        var (exit, output, err) = Run(null, "bench", "--model", path, "--json");
        Assert.Equal(0, exit);
        Assert.Contains("n_ctx is 64", err);   // says how the 256-token runs were adapted
        using var doc = JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        Assert.Equal(path, doc.RootElement.GetProperty("model").GetString());
        Assert.Equal("float32", doc.RootElement.GetProperty("activations").GetString());
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToDictionary(r => r.GetProperty("backend").GetString()!);
        Assert.Equal(["managed", "cpu"], results.Keys);   // no DirectML here
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("load_average").GetString()));
        // Equal threads by default (issue 13): every contender names its count, and they match.
        Assert.Equal(results["managed"].GetProperty("threads").GetInt32(), results["cpu"].GetProperty("threads").GetInt32());
        Assert.Equal(Math.Min(Environment.ProcessorCount, 2), results["cpu"].GetProperty("threads").GetInt32());
        Assert.Contains("threads", err);
        foreach (var r in results.Values)
        {
            Assert.True(r.GetProperty("decode_tokens_per_s").GetDouble() > 0);
            Assert.True(r.GetProperty("prefill_ms").GetDouble() > 0);
        }
        Assert.Equal(0, results["managed"].GetProperty("alloc_bytes_per_token").GetDouble());
    }
}
