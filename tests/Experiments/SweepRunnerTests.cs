using EdgeShortcut.Core;
using EdgeShortcut.Experiments;
using TrainerRun = EdgeShortcut.Trainer.Training.Trainer;

namespace EdgeShortcut.Tests.Experiments;

[Collection("Torch")]
public class SweepRunnerTests
{
    [Fact]
    public void A_sweep_trains_every_arm_and_seed_then_a_second_call_skips_them_all()
    {
        using var t = new TempSweep();
        var first = t.Runner().Run();
        Assert.Equal(["sc/1", "gpt/1", "sc/2", "gpt/2"], first.Select(o => $"{o.Run.Arm.Name}/{o.Run.Seed}"));   // seed-major order
        Assert.All(first, o => Assert.Equal(RunAction.Trained, o.Action));
        Assert.All(first, o => Assert.True(o.Finished));
        string log = Path.Combine(t.RunnerOutRun("sc", 1), TrainerRun.LogFile);
        var before = File.ReadAllBytes(log);

        var second = t.Runner().Run();
        Assert.All(second, o => Assert.Equal(RunAction.Skipped, o.Action));
        Assert.Equal(before, File.ReadAllBytes(log));
    }

    [Fact]
    public void An_interrupted_sweep_resumes_the_unfinished_run_and_ends_where_an_uninterrupted_one_does()
    {
        using var whole = new TempSweep();
        using var cut = new TempSweep();
        whole.Runner().Run();

        using var stop = new CancellationTokenSource();
        var partial = cut.Runner().Run(progress: (_, p) => { if (p.Step == 4) stop.Cancel(); }, cancellation: stop.Token);
        var only = Assert.Single(partial);                         // the sweep stops with its first run
        Assert.False(only.Finished);
        Assert.Equal(4, SweepRunner.ReadStateChecked(only.Run)!.Step);

        var rest = cut.Runner().Run();
        Assert.Equal([RunAction.Resumed, RunAction.Trained, RunAction.Trained, RunAction.Trained], rest.Select(o => o.Action));
        var a = whole.Runner().Plan().Select(RunResult.Read).ToList();
        var b = cut.Runner().Plan().Select(RunResult.Read).ToList();
        for (int i = 0; i < a.Count; i++)
            Assert.Equal(a[i].FinalValNll!.Value, b[i].FinalValNll!.Value, 5);
    }

    [Fact]
    public void A_run_claimed_by_another_process_is_left_alone()
    {
        using var t = new TempSweep();
        string dir = t.RunnerOutRun("gpt", 1);
        Directory.CreateDirectory(dir);
        using (new FileStream(Path.Combine(dir, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var outcomes = t.Runner().Run();
            Assert.Equal([RunAction.Trained, RunAction.Busy, RunAction.Trained, RunAction.Trained], outcomes.Select(o => o.Action));
        }
        Assert.Null(SweepRunner.ReadStateChecked(t.Runner().Plan()[1]));
        Assert.Equal(RunAction.Trained, t.Runner().Run()[1].Action);
    }

    [Fact]
    public void A_run_directory_trained_with_other_options_is_refused_not_mixed()
    {
        using var t = new TempSweep();
        t.Runner().Run();
        var spec = TempSweep.Spec();
        spec["base"]!["steps"] = 9;
        t.WriteSpec(spec);
        var e = Assert.Throws<SpecException>(() => t.Runner().Run());
        Assert.Contains(Path.Combine("runs", "sc", "seed-1"), e.Message);
        Assert.Contains("other options", e.Message);
    }

    [Fact]
    public void Every_run_reads_the_same_split_train_90_percent_and_the_first_val_tokens_of_the_rest()
    {
        using var t = new TempSweep();
        var plan = t.Runner().Plan();
        byte[] corpus = File.ReadAllBytes(Path.Combine(t.Dir, "corpus.txt"));
        int split = corpus.Length - corpus.Length / 10;
        Assert.All(plan, r => Assert.Equal(plan[0].Options.DataPath, r.Options.DataPath));
        Assert.Equal(corpus[..split], File.ReadAllBytes(plan[0].Options.DataPath));
        Assert.Equal(corpus[split..(split + 400)], File.ReadAllBytes(plan[0].Options.ValDataPath!));
        Assert.Equal([1L, 2L], plan.Select(r => r.Options.Seed).Distinct());
    }
}

internal static class TempSweepExtensions
{
    public static string RunnerOutRun(this TempSweep t, string arm, long seed) => Path.Combine(t.OutDir, "runs", arm, $"seed-{seed}");
}
