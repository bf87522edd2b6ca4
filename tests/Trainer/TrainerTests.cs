using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Data;
using EdgeShortcut.Trainer.Model;
using EdgeShortcut.Trainer.Training;
using TrainerRun = EdgeShortcut.Trainer.Training.Trainer;

namespace EdgeShortcut.Tests.Trainer;

[Collection("Torch")]
public class TrainerTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Training_2N_steps_equals_N_steps_then_resume_for_N(bool shortcut)
    {
        using var a = new TempRun();
        using var b = new TempRun();
        var full = new TrainerRun(a.Options(8) with { Shortcut = shortcut }).Run();

        // Stop the same 8-step run (same schedule) after step 4, as a kill or Ctrl+C would, then resume it.
        using var stop = new CancellationTokenSource();
        var first = new TrainerRun(b.Options(8) with { Shortcut = shortcut }).Run(p => { if (p.Step == 4) stop.Cancel(); }, stop.Token);
        Assert.True(first.Cancelled);
        var second = new TrainerRun(b.Options(8) with { Shortcut = shortcut }, resume: true).Run();

        Assert.Equal(8, full.StepLosses.Count);
        Assert.Equal(4, first.StepLosses.Count);
        Assert.Equal(4, second.StepLosses.Count);
        var resumed = first.StepLosses.Concat(second.StepLosses).ToArray();
        for (int i = 0; i < 8; i++) Assert.True(Math.Abs(full.StepLosses[i] - resumed[i]) < 1e-5, $"step {i + 1}: {full.StepLosses[i]} vs {resumed[i]}");
        Assert.Equal(full.LastValidation!.MeanNll, second.LastValidation!.MeanNll, 5);
        Assert.Equal(File.ReadAllText(Path.Combine(a.OutDir, TrainerRun.LogFile)).Split('\n').Select(l => l.Split(',')[0]),
                     File.ReadAllText(Path.Combine(b.OutDir, TrainerRun.LogFile)).Split('\n').Select(l => l.Split(',')[0]));
    }

    [Fact]
    public void A_run_writes_last_and_best_checkpoints_and_a_csv_of_every_eval()
    {
        using var run = new TempRun();
        var result = new TrainerRun(run.Options(7)).Run();
        Assert.True(result.StepLosses[^1] < result.StepLosses[0], "loss did not decrease");
        foreach (var dir in new[] { TrainerRun.LastDir(run.OutDir), TrainerRun.BestDir(run.OutDir) })
        {
            foreach (var f in new[] { Checkpoint.ConfigFile, Checkpoint.WeightsFile, TrainingCheckpoint.OptimizerFile, TrainingCheckpoint.StateFile })
                Assert.True(File.Exists(Path.Combine(dir, f)), $"{dir}/{f} missing");
            var (config, _) = Checkpoint.Load(dir);   // validates names and shapes against the config
            Assert.Equal(run.Options(7).ModelConfig(), config.Model);
        }
        Assert.Equal(7, TrainingCheckpoint.ReadState(TrainerRun.LastDir(run.OutDir)).Step);
        var log = File.ReadAllLines(Path.Combine(run.OutDir, TrainerRun.LogFile));
        Assert.Equal("step,tokens_seen,train_loss,val_nll,val_bpb,lr,elapsed_s", log[0]);
        Assert.Equal(["3", "6", "7"], log.Skip(1).Select(l => l.Split(',')[0]));   // every 3 steps and at the end
        Assert.Empty(Directory.GetDirectories(run.OutDir, ".*"));                   // no temp or .old directories left
    }

    [Fact]
    public void Cancelling_stops_after_the_current_step_and_keeps_a_resumable_last_checkpoint()
    {
        using var run = new TempRun();
        using var cts = new CancellationTokenSource();
        var result = new TrainerRun(run.Options(50)).Run(p => { if (p.Step == 2) cts.Cancel(); }, cts.Token);
        Assert.True(result.Cancelled);
        Assert.Equal(2, result.Step);
        Assert.Equal(2, TrainingCheckpoint.ReadState(TrainerRun.LastDir(run.OutDir)).Step);
    }

    [Fact]
    public void Cancelling_during_an_evaluation_also_returns_cancelled_with_the_finished_step_saved()
    {
        using var run = new TempRun();
        using var cts = new CancellationTokenSource();
        // The step-2 progress report comes before step 2's evaluation, so the evaluation sees the cancel.
        var result = new TrainerRun(run.Options(50) with { EvalEvery = 2 }).Run(p => { if (p.Step == 2 && !p.IsEval) cts.Cancel(); }, cts.Token);
        Assert.True(result.Cancelled);
        Assert.Equal(2, result.Step);
        Assert.Equal(2, TrainingCheckpoint.ReadState(TrainerRun.LastDir(run.OutDir)).Step);
    }

    [Fact]
    public void Interrupted_commit_is_recovered_from_the_old_directory()
    {
        using var run = new TempRun();
        new TrainerRun(run.Options(3)).Run();
        string last = TrainerRun.LastDir(run.OutDir), old = Path.Combine(run.OutDir, ".last.old");
        Directory.Move(last, old);                   // the state a kill between the two renames leaves
        Assert.Equal(3, TrainingCheckpoint.ReadState(last).Step);
        Assert.True(Directory.Exists(last));
    }

    [Fact]
    public void A_separate_validation_file_replaces_the_split()
    {
        using var run = new TempRun();
        string val = Path.Combine(run.Dir, "val.txt");
        File.WriteAllText(val, new string('x', 40));
        var (train, validation) = TrainerRun.LoadData(run.Options(1) with { ValDataPath = val });
        Assert.Equal(new FileInfo(run.DataPath).Length, train.Length);   // all of --data trains
        Assert.Equal(40, validation.Length);
    }

    [Fact]
    public void Validation_is_the_last_tenth_unless_given()
    {
        var corpus = new TokenCorpus([.. Enumerable.Range(0, 95).Select(i => (ushort)i)], TokenizerSpec.Bytes, "mem");
        var (train, val) = corpus.SplitLastTenth();
        Assert.Equal(86, train.Length);
        Assert.Equal(9, val.Length);
        Assert.Equal(86, val.Tokens[0]);
    }

    [Fact]
    public void Bad_inputs_fail_with_messages_naming_the_file_or_flag()
    {
        using var run = new TempRun(bytes: 60);
        var missing = Assert.Throws<CorpusException>(() => new TrainerRun(run.Options(1) with { DataPath = run.DataPath + ".nope" }).Run());
        Assert.Contains("not found", missing.Message);
        File.WriteAllBytes(Path.Combine(run.Dir, "empty.txt"), []);
        var empty = Assert.Throws<CorpusException>(() => new TrainerRun(run.Options(1) with { DataPath = Path.Combine(run.Dir, "empty.txt") }).Run());
        Assert.Contains("empty", empty.Message);
        var shortCorpus = Assert.Throws<CorpusException>(() => new TrainerRun(run.Options(1) with { Context = 64 }).Run());
        Assert.Contains("shorter than one context window", shortCorpus.Message);
        var heads = Assert.Throws<ArgumentException>(() => (run.Options(1) with { Heads = 3 }).Validate());
        Assert.Contains("--heads", heads.Message);
        var lr = Assert.Throws<ArgumentException>(() => (run.Options(1) with { LearningRate = -1 }).Validate());
        Assert.Contains("--lr", lr.Message);
        var taps = Assert.Throws<ArgumentException>(() => (run.Options(1) with { Shortcut = false, Taps = [1] }).Validate());
        Assert.Contains("--taps", taps.Message);
        Assert.Throws<CheckpointFormatException>(() => new TrainerRun(run.Options(1), resume: true).Run());   // nothing to resume
    }

    [Fact]
    public void Token_files_train_and_reject_odd_lengths_and_out_of_vocab_ids()
    {
        using var run = new TempRun();
        string path = Path.Combine(run.Dir, "tokens.bin");
        var ids = Enumerable.Range(0, 600).Select(i => (ushort)(i * 7 % 300)).ToArray();
        File.WriteAllBytes(path, ids.SelectMany(BitConverter.GetBytes).ToArray());
        var result = new TrainerRun(run.Options(2) with { DataPath = path, TokenVocab = 300 }).Run();
        Assert.Equal(2, result.Step);
        var (config, _) = Checkpoint.Load(TrainerRun.LastDir(run.OutDir));
        Assert.Equal(new TokenizerSpec(TokenizerSpec.TokenFileKind, 300), config.Tokenizer);
        Assert.Equal(300, config.Model.VocabSize);

        File.WriteAllBytes(path, [1, 0, 2]);
        Assert.Contains("even byte count", Assert.Throws<CorpusException>(() => TokenCorpus.Load(path, config.Tokenizer)).Message);
        File.WriteAllBytes(path, [1, 0, 44, 1]);   // 300 is outside 0..299
        Assert.Contains("outside the declared vocab", Assert.Throws<CorpusException>(() => TokenCorpus.Load(path, config.Tokenizer)).Message);
    }

    [Fact]
    public void Evaluation_averages_over_whole_non_overlapping_windows()
    {
        var c = TinyModels.Shortcut;   // ctx 8, vocab 11
        using var model = TinyModels.Create(c);
        var tokens = Enumerable.Range(0, 30).Select(i => (ushort)(i * 5 % 11)).ToArray();
        var corpus = new TokenCorpus(tokens, new TokenizerSpec(TokenizerSpec.TokenFileKind, 11), "mem");
        var result = Evaluation.MeanNll(model, corpus, batch: 2);
        Assert.Equal(3, result.Windows);               // (30 - 1) / 8
        Assert.Equal(24, result.Tokens);
        double total = 0;
        for (int w = 0; w < 3; w++)
        {
            using var logits = model.forward(TorchSharp.torch.tensor(tokens[(w * 8)..(w * 8 + 8)].Select(t => (long)t).ToArray(), [1, 8]));
            using var logp = logits.log_softmax(-1);
            for (int i = 0; i < 8; i++) total -= logp[0, i, tokens[w * 8 + i + 1]].item<float>();
        }
        Assert.Equal(total / 24, result.MeanNll, 5);
        Assert.Equal(result.MeanNll / Math.Log(2), result.BitsPerToken, 12);
    }

    [Fact]
    public void Schedule_warms_up_linearly_then_decays_by_cosine_to_the_minimum()
    {
        Assert.Equal(0.25, LearningRateSchedule.At(0, 100, 1.0, 0.1, 4), 12);
        Assert.Equal(1.0, LearningRateSchedule.At(4, 100, 1.0, 0.1, 4), 12);
        Assert.Equal(0.55, LearningRateSchedule.At(4 + 49, 103, 1.0, 0.1, 4), 12);   // half-way through 98 decay steps
        Assert.Equal(0.1, LearningRateSchedule.At(102, 103, 1.0, 0.1, 4), 12);
    }
}
