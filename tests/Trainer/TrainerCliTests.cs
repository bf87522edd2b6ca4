using EdgeShortcut.Tests.Support;
using System.Text.Json;

namespace EdgeShortcut.Tests.Trainer;

/// <summary>Runs the trainer's real entry point in-process (train, eval --json, sample, --help, errors).</summary>
[Collection("Torch")]
public class TrainerCliTests
{
    /// <summary>Runs the trainer's CLI in process; returns its exit code and what it printed.</summary>
    internal static (int Code, string Out, string Err) Cli(params string[] args) =>
        InProcessCli.Run(typeof(EdgeShortcut.Trainer.Training.Trainer).Assembly, args);

    [Fact]
    public void Train_then_eval_json_and_sample_work_end_to_end()
    {
        using var run = new TempRun();
        var (code, output, err) = Cli("train", "--data", run.DataPath, "--out", run.OutDir, "--steps", "3", "--layers", "2", "--dim", "16",
            "--heads", "2", "--context", "16", "--batch", "2", "--eval-every", "2", "--threads", "1", "--taps", "1");
        Assert.True(code == 0, err);
        Assert.Contains("val_nll", output);

        string last = Path.Combine(run.OutDir, "last");
        (code, output, err) = Cli("eval", "--checkpoint", last, "--json");
        Assert.True(code == 0, err);
        using var json = JsonDocument.Parse(output.TrimEnd().Split('\n')[^1]);
        double nll = json.RootElement.GetProperty("val_nll").GetDouble();
        Assert.InRange(nll, 0.5, 10);
        Assert.Equal(nll / Math.Log(2), json.RootElement.GetProperty("val_bpb").GetDouble(), 9);

        (code, output, err) = Cli("eval", "--checkpoint", last, "--data", run.DataPath, "--json");
        Assert.True(code == 0, err);

        (code, output, err) = Cli("sample", "--checkpoint", last, "--max-new-tokens", "12", "--temperature", "0", "the cat");
        Assert.True(code == 0, err);
        Assert.StartsWith("the cat", output);
        var (_, again, _) = Cli("sample", "--checkpoint", last, "--max-new-tokens", "12", "--temperature", "0", "the cat");
        Assert.Equal(output, again);   // greedy decoding is deterministic
    }

    [Fact]
    public void Help_documents_every_flag_with_its_default()
    {
        var (code, output, _) = Cli("train", "--help");
        Assert.Equal(0, code);
        foreach (var flag in new[] { "--data", "--val-data", "--out", "--arch", "--layers", "--dim", "--heads", "--context", "--taps", "--feature-dim",
                     "--steps", "--batch", "--grad-accum", "--lr", "--min-lr", "--warmup", "--weight-decay", "--dropout", "--clip", "--seed",
                     "--eval-every", "--resume", "--threads" })
            Assert.Contains(flag, output);
        Assert.Contains("default: 0.001", output);   // --lr
        Assert.Contains("default: all", output);     // --taps
    }

    [Fact]
    public void Sample_spells_its_generation_flags_as_the_console_sample_does()
    {
        var (code, sample, _) = Cli("sample", "--help");
        Assert.Equal(0, code);
        var consoleMain = System.Reflection.Assembly.Load("EdgeShortcut.Console").EntryPoint!;
        var oldOut = Console.Out;
        using var stdout = new StringWriter();
        Console.SetOut(stdout);
        try { Assert.Equal(0, (int)consoleMain.Invoke(null, [new[] { "--help" }])!); }
        finally { Console.SetOut(oldOut); }
        string console = stdout.ToString();
        foreach (var help in new[] { sample, console })
        {
            foreach (var flag in new[] { "-n, --max-new-tokens", "-t, --temperature", "--top-k", "-s, --seed", "<prompt>" })
                Assert.Contains(flag, help);
            Assert.DoesNotContain("--max-tokens", help);
            Assert.DoesNotContain("--prompt", help);
        }
    }

    [Fact]
    public void Bad_input_exits_with_a_one_line_message_and_the_shared_exit_codes()
    {
        // A missing file is a runtime error (1) in every tool; a bad flag value is a usage error (2).
        var (code, _, err) = Cli("train", "--data", "/definitely/missing.txt", "--out", Path.GetTempPath());
        Assert.Equal(1, code);
        Assert.StartsWith("error: /definitely/missing.txt: file not found", err);
        (code, _, err) = Cli("train", "--data", "/definitely/missing.txt", "--out", Path.GetTempPath(), "--steps", "0");
        Assert.Equal(2, code);
        Assert.StartsWith("error: --steps", err);
        (code, _, err) = Cli("eval", "--checkpoint", "/definitely/missing-dir");
        Assert.Equal(1, code);
        Assert.Contains("checkpoint directory not found", err);
    }
}
