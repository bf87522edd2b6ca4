using System.Text.Json.Nodes;
using EdgeShortcut.Core;
using EdgeShortcut.Tests.Support;
using EdgeShortcut.Trainer.Data;
using EdgeShortcut.Trainer.Model;
using EdgeShortcut.Trainer.Training;
using static EdgeShortcut.Tests.Trainer.TrainerCliTests;

namespace EdgeShortcut.Tests.Trainer;

/// <summary>Issue 12 reproducers against the trainer: bad flags are usage errors (exit 2) naming the
/// flag, bad files are runtime errors (exit 1) naming the file, a corrupt RNG state or optimizer file
/// never reaches libtorch, a plain resume keeps its stored settings, and a diverging run stops with
/// its last good checkpoint intact.</summary>
[Collection("Torch")]
public sealed class TrainerHostileInputTests
{
    private static string[] TinyTrain(TempRun run, params string[] extra) =>
    [
        "train", "--data", run.DataPath, "--out", run.OutDir, "--layers", "3", "--dim", "16", "--heads", "2", "--context", "16",
        "--batch", "2", "--threads", "1", "--warmup", "1", .. extra,
    ];

    /// <summary><c>train --resume</c> of the run, with only the flags a resume may give.</summary>
    private static string[] Resume(TempRun run, params string[] extra) => ["train", "--data", run.DataPath, "--out", run.OutDir, "--resume", .. extra];

    private static void AssertError(int code, string err, int expectedCode, params string[] mentions)
    {
        Assert.True(expectedCode == code, $"exit {code}, expected {expectedCode}: {err}");
        Assert.StartsWith("error: ", err);
        Assert.DoesNotContain("   at ", err);
        foreach (var m in mentions) Assert.Contains(m, err);
    }

    [Fact]
    public void Eval_batch_below_one_is_refused_by_the_evaluation_itself_and_by_the_cli()
    {
        using var run = new TempRun();
        string ckpt = Path.Combine(run.Dir, "ckpt");
        TinyCheckpoint.Write(ckpt, TinyCheckpoint.Config(), seed: 1);
        using var model = ModelCheckpoint.Load(ckpt);
        var corpus = TokenCorpus.Load(run.DataPath, TokenizerSpec.Bytes);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(10));   // the bug looped forever
        Assert.Throws<ArgumentOutOfRangeException>(() => Evaluation.MeanNll(model, corpus, 0, guard.Token));
        foreach (var batch in new[] { "0", "-1" })
        {
            var (code, _, err) = Cli("eval", "--checkpoint", ckpt, "--data", run.DataPath, "--batch", batch);
            AssertError(code, err, 2, "--batch");
        }
    }

    [Fact]
    public void Corrupt_torch_rng_state_is_a_format_error_naming_the_file_and_key()
    {
        using var run = new TempRun();
        Assert.Equal(0, Cli(TinyTrain(run, "--steps", "2", "--eval-every", "2")).Code);
        string last = Path.Combine(run.OutDir, "last"), stateFile = Path.Combine(last, TrainingCheckpoint.StateFile);
        string original = File.ReadAllText(stateFile);
        byte[] rng = Convert.FromBase64String(JsonNode.Parse(original)!["torch_rng_state"]!.GetValue<string>());
        byte[] badLeft = (byte[])rng.Clone();
        BitConverter.GetBytes(0).CopyTo(badLeft, 8);   // mt19937 'left' = 0: libtorch aborted the process on it
        foreach (string bad in new[] { "not base64!", Convert.ToBase64String(rng[..100]), Convert.ToBase64String(badLeft) })
        {
            var json = JsonNode.Parse(original)!;
            json["torch_rng_state"] = bad;
            File.WriteAllText(stateFile, json.ToJsonString());
            var e = Assert.Throws<CheckpointFormatException>(() => TrainingCheckpoint.ReadState(last));
            Assert.Equal(stateFile, e.FilePath);
            Assert.Contains("torch_rng_state", e.Message);
            var (code, _, err) = Cli(Resume(run));
            AssertError(code, err, 1, TrainingCheckpoint.StateFile, "torch_rng_state");
        }
    }

    [Fact]
    public void A_truncated_optimizer_file_is_named()
    {
        using var run = new TempRun();
        Assert.Equal(0, Cli(TinyTrain(run, "--steps", "2", "--eval-every", "2")).Code);
        string opt = Path.Combine(run.OutDir, "last", TrainingCheckpoint.OptimizerFile);
        byte[] bytes = File.ReadAllBytes(opt);
        File.WriteAllBytes(opt, bytes[..(bytes.Length / 2)]);
        var (code, _, err) = Cli(Resume(run, "--steps", "4"));
        AssertError(code, err, 1, opt);
    }

    [Fact]
    public void A_plain_resume_keeps_the_stored_steps_eval_interval_and_threads()
    {
        using var run = new TempRun();
        Assert.Equal(0, Cli(TinyTrain(run, "--steps", "3", "--eval-every", "3")).Code);
        var (code, output, err) = Cli(Resume(run));
        Assert.True(code == 0, err);
        Assert.Contains("Done: 3 steps", output);   // the bug trained on to the default 2000
        var state = TrainingCheckpoint.ReadState(Path.Combine(run.OutDir, "last"));
        Assert.Equal((3, 3, 3, 1), (state.Step, state.Options.Steps, state.Options.EvalEvery, state.Options.Threads));
        (code, _, err) = Cli(Resume(run, "--steps", "4"));   // a given --steps still extends the run
        Assert.True(code == 0, err);
        Assert.Equal(4, TrainingCheckpoint.ReadState(Path.Combine(run.OutDir, "last")).Step);
    }

    [Fact]
    public void A_diverging_run_stops_with_a_clear_message_and_keeps_its_last_good_checkpoint()
    {
        using var run = new TempRun();
        Assert.Equal(0, Cli(TinyTrain(run, "--steps", "2", "--eval-every", "2")).Code);
        string last = Path.Combine(run.OutDir, "last"), stateFile = Path.Combine(last, TrainingCheckpoint.StateFile);
        var json = JsonNode.Parse(File.ReadAllText(stateFile))!;
        json["options"]!["lr"] = 1e30;              // the stored settings now diverge on the next step
        json["options"]!["min_lr"] = 1e30;
        json["options"]!["clip"] = 0;
        File.WriteAllText(stateFile, json.ToJsonString());
        var (code, _, err) = Cli(Resume(run, "--steps", "6"));
        AssertError(code, err, 1, "diverged", "last good checkpoint");
        Assert.Equal(2, TrainingCheckpoint.ReadState(last).Step);
        Assert.Equal(["best", "last"], Directory.GetDirectories(run.OutDir).Select(Path.GetFileName).Order());

        using var fresh = new TempRun();
        (code, _, err) = Cli(TinyTrain(fresh, "--steps", "3", "--eval-every", "1", "--lr", "1e30", "--min-lr", "0", "--clip", "0"));
        AssertError(code, err, 1, "diverged");
        Assert.DoesNotContain("cannot be written", err);   // the JSON writer never sees infinity
    }

    [Fact]
    public void Sample_flags_are_named_and_a_tiny_temperature_is_refused()
    {
        using var run = new TempRun();
        string ckpt = Path.Combine(run.Dir, "ckpt");
        TinyCheckpoint.Write(ckpt, TinyCheckpoint.Config(), seed: 1);
        var (code, _, err) = Cli("sample", "--checkpoint", ckpt, "--temperature", "-1", "x");
        AssertError(code, err, 2, "--temperature");
        (code, _, err) = Cli("sample", "--checkpoint", ckpt, "--max-new-tokens", "-1", "x");
        AssertError(code, err, 2, "--max-new-tokens");
        (code, _, err) = Cli("sample", "--checkpoint", ckpt, "--temperature", "1e-40", "x");
        AssertError(code, err, 2, "--temperature");
        (code, _, err) = Cli("sample", "--checkpoint", ckpt, "--top-k", "-3", "x");
        AssertError(code, err, 2, "--top-k");
    }

    [Fact]
    public void Exit_codes_are_two_for_usage_and_one_for_runtime_errors()
    {
        using var run = new TempRun();
        var (code, _, err) = Cli("train", "--data", run.DataPath, "--out", run.OutDir, "--dim", "65536", "--heads", "4", "--layers", "3", "--context", "16", "--steps", "1");
        AssertError(code, err, 2, "--dim", "tensor");                         // passed validation and died in the allocator before
        Assert.Equal(2, Cli("train", "--data", run.DataPath, "--no-such-flag").Code);   // does not parse
        (code, _, err) = Cli("eval", "--checkpoint", Path.Combine(run.Dir, "missing"), "--data", run.DataPath);
        AssertError(code, err, 1, "missing");
        var missingData = TinyTrain(run, "--steps", "1");
        missingData[2] = Path.Combine(run.Dir, "nothing.txt");
        (code, _, err) = Cli(missingData);
        AssertError(code, err, 1, "nothing.txt");
    }

    [Fact]
    public void Eval_sample_and_resume_recover_an_interrupted_commit()
    {
        using var run = new TempRun();
        Assert.Equal(0, Cli(TinyTrain(run, "--steps", "2", "--eval-every", "2")).Code);
        string last = Path.Combine(run.OutDir, "last"), old = Path.Combine(run.OutDir, ".last.old");
        Directory.Move(last, old);
        var (code, _, err) = Cli("eval", "--checkpoint", last, "--data", run.DataPath);
        Assert.True(code == 0, err);
        Directory.Move(last, old);
        (code, _, err) = Cli("sample", "--checkpoint", last, "-n", "2", "x");
        Assert.True(code == 0, err);
    }

    [Fact]
    public void A_non_finite_checkpoint_is_refused_by_sample_naming_the_tensor()
    {
        using var run = new TempRun();
        string ckpt = Path.Combine(run.Dir, "ckpt");
        var config = TinyCheckpoint.Config();
        var weights = TinyCheckpoint.Write(ckpt, config, seed: 1);
        weights["ln_f.weight"].Data[0] = float.NaN;
        Safetensors.Write(Path.Combine(ckpt, Checkpoint.WeightsFile), TensorNames.All(config).Select(t => weights[t.Name]));
        var (code, _, err) = Cli("sample", "--checkpoint", ckpt, "-n", "2", "x");
        AssertError(code, err, 1, "'ln_f.weight'", "NaN");
    }

    [Fact]
    public void Sample_from_a_model_whose_logits_overflow_is_one_error_line()
    {
        using var run = new TempRun();
        string ckpt = Path.Combine(run.Dir, "ckpt");
        var config = TinyCheckpoint.Config();
        var weights = TinyCheckpoint.Write(ckpt, config, seed: 1);
        Array.Fill(weights["ln_f.weight"].Data, 3e38f);   // finite, but the logits overflow
        Safetensors.Write(Path.Combine(ckpt, Checkpoint.WeightsFile), TensorNames.All(config).Select(t => weights[t.Name]));
        var (code, _, err) = Cli("sample", "--checkpoint", ckpt, "-n", "2", "x");   // died with ExternalException from multinomial
        AssertError(code, err, 1, "non-finite logits");
    }
}
