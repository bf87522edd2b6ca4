using EdgeShortcut.Trainer.Training;
using TrainerRun = EdgeShortcut.Trainer.Training.Trainer;

namespace EdgeShortcut.Tests.Trainer;

/// <summary>The late exit recipe (--exit-from-step S): the plain objective before step S, the recipe from it on.</summary>
[Collection("Torch")]
public class LateExitRecipeTests
{
    private static TrainingOptions Plain(TempRun run, int steps) => TempRun.PinnedDefaults(run.Options(steps)) with { Layers = 4 };

    private static TrainingOptions Late(TempRun run, int steps, int from) =>
        Plain(run, steps) with { ExitDepths = [1, 2], ExitLossWeight = 0.5, TokenExitRate = 0.5, ExitFromStep = from };

    [Fact]
    public void Steps_before_the_start_train_exactly_the_plain_objective_and_later_steps_the_recipe()
    {
        using var a = new TempRun();
        using var b = new TempRun();
        var plain = new TrainerRun(Plain(a, 5)).Run();
        var late = new TrainerRun(Late(b, 5, from: 3)).Run();
        for (int i = 0; i < 3; i++) Assert.True(plain.StepLosses[i] == late.StepLosses[i], $"step {i + 1}: {plain.StepLosses[i]:R} vs {late.StepLosses[i]:R}");
        for (int i = 3; i < 5; i++) Assert.True(plain.StepLosses[i] != late.StepLosses[i], $"step {i + 1} did not use the recipe");
    }

    [Fact]
    public void A_run_resumed_across_the_start_step_continues_exactly()
    {
        using var a = new TempRun();
        using var b = new TempRun();
        var full = new TrainerRun(Late(a, 6, from: 3)).Run();
        using var stop = new CancellationTokenSource();
        var first = new TrainerRun(Late(b, 6, from: 3)).Run(p => { if (p.Step == 2) stop.Cancel(); }, stop.Token);
        Assert.True(first.Cancelled);
        var second = new TrainerRun(Late(b, 6, from: 3), resume: true).Run();
        var resumed = first.StepLosses.Concat(second.StepLosses).ToArray();
        Assert.Equal(6, resumed.Length);
        for (int i = 0; i < 6; i++) Assert.True(full.StepLosses[i] == resumed[i], $"step {i + 1}: {full.StepLosses[i]:R} vs {resumed[i]:R}");
        Assert.Equal(3, TrainingCheckpoint.ReadState(TrainerRun.LastDir(b.OutDir)).Options.ExitFromStep);
    }

    [Fact]
    public void Bad_start_steps_name_the_flag()
    {
        using var run = new TempRun();
        foreach (var from in new[] { -1, 5, 6 })
        {
            var e = Assert.Throws<ArgumentException>(() => Late(run, 5, from).Validate());
            Assert.Equal("--exit-from-step", e.ParamName);
        }
        var missing = Assert.Throws<ArgumentException>(() => (Plain(run, 5) with { ExitFromStep = 2 }).Validate());
        Assert.Contains("--exit-depths", missing.Message);
        Late(run, 5, from: 4).Validate();
        Plain(run, 5).Validate();
    }

    [Fact]
    public void The_cli_flag_is_validated_and_fixed_on_resume()
    {
        using var run = new TempRun();
        var (code, _, err) = TrainerCliTests.Cli("train", "--data", run.DataPath, "--out", run.OutDir, "--steps", "2", "--exit-from-step", "1");
        Assert.NotEqual(0, code);
        Assert.Contains("--exit-from-step", err);
        Assert.Contains("--exit-depths", err);
        (code, _, err) = TrainerCliTests.Cli("train", "--data", run.DataPath, "--out", run.OutDir, "--steps", "2", "--resume", "--exit-from-step", "1");
        Assert.NotEqual(0, code);
        Assert.Contains("--exit-from-step", err);
    }
}
