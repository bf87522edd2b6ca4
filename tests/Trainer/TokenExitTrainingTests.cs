using System.Text.Json;
using EdgeShortcut.Trainer.Training;
using TrainerRun = EdgeShortcut.Trainer.Training.Trainer;

namespace EdgeShortcut.Tests.Trainer;

/// <summary>Training with per-token exits (--token-exit-rate): off is the recipe unchanged, on resumes exactly.</summary>
[Collection("Torch")]
public class TokenExitTrainingTests
{
    /// <summary>Step losses of <see cref="Recipe"/> (exit depths 1,2, w 0.5, dropout 0.1) with the trainer as it was
    /// before --token-exit-rate existed (commit 3c5a3a4), printed with "R" precision.</summary>
    private static readonly double[] RecipeLossesBeforeTokenExits = [8.32338285446167, 8.203752517700195, 8.07977294921875, 7.944719552993774];

    private static TrainingOptions Recipe(TempRun run, int steps) =>
        TempRun.PinnedDefaults(run.Options(steps)) with { Layers = 4, ExitDepths = [1, 2], ExitLossWeight = 0.5 };

    [Fact]
    public void With_token_exit_rate_zero_the_recipe_is_unchanged()
    {
        using var run = new TempRun();
        var result = new TrainerRun(Recipe(run, 4) with { TokenExitRate = 0 }).Run();
        Assert.True(RecipeLossesBeforeTokenExits.SequenceEqual(result.StepLosses),
            $"losses {string.Join(", ", result.StepLosses.Select(l => l.ToString("R")))}");
    }

    [Fact]
    public void Token_exit_training_checkpoints_and_resumes_exactly()
    {
        using var a = new TempRun();
        using var b = new TempRun();
        TrainingOptions Options(TempRun r) => Recipe(r, 6) with { TokenExitRate = 0.5 };
        var full = new TrainerRun(Options(a)).Run();
        Assert.All(full.StepLosses, l => Assert.True(double.IsFinite(l)));
        Assert.False(full.StepLosses.Take(4).SequenceEqual(RecipeLossesBeforeTokenExits), "the option changed nothing");

        using var stop = new CancellationTokenSource();
        var first = new TrainerRun(Options(b)).Run(p => { if (p.Step == 3) stop.Cancel(); }, stop.Token);
        Assert.True(first.Cancelled);
        var second = new TrainerRun(Options(b), resume: true).Run();
        var resumed = first.StepLosses.Concat(second.StepLosses).ToArray();
        Assert.Equal(6, resumed.Length);
        for (int i = 0; i < 6; i++) Assert.True(full.StepLosses[i] == resumed[i], $"step {i + 1}: {full.StepLosses[i]:R} vs {resumed[i]:R}");
        Assert.Equal(full.LastValidation!.MeanNll, second.LastValidation!.MeanNll, 9);

        var state = TrainingCheckpoint.ReadState(TrainerRun.LastDir(b.OutDir));
        Assert.Equal(0.5, state.Options.TokenExitRate);
        Assert.Contains("\"token_exit_rate\": 0.5", File.ReadAllText(Path.Combine(TrainerRun.LastDir(b.OutDir), TrainingCheckpoint.StateFile)));
    }

    [Fact]
    public void Bad_token_exit_rates_name_the_flag()
    {
        using var run = new TempRun();
        foreach (var rate in new[] { -0.1, 1.0, 1.5, double.NaN, double.PositiveInfinity })
        {
            var e = Assert.Throws<ArgumentException>(() => (Recipe(run, 1) with { TokenExitRate = rate }).Validate());
            Assert.Contains("--token-exit-rate", e.Message);
            Assert.Contains("[0, 1)", e.Message);
        }
        var missing = Assert.Throws<ArgumentException>(() => (run.Options(1) with { TokenExitRate = 0.5 }).Validate());
        Assert.Contains("--token-exit-rate", missing.Message);
        Assert.Contains("--exit-depths", missing.Message);
        Assert.Equal("--token-exit-rate", missing.ParamName);
        (Recipe(run, 1) with { TokenExitRate = 0.5 }).Validate();
        (run.Options(1) with { TokenExitRate = 0 }).Validate();
    }

    [Fact]
    public void The_cli_flag_is_validated_and_fixed_on_resume()
    {
        using var run = new TempRun();
        var (code, _, err) = TrainerCliTests.Cli("train", "--data", run.DataPath, "--out", run.OutDir, "--steps", "1", "--token-exit-rate", "0.5");
        Assert.NotEqual(0, code);
        Assert.Contains("--token-exit-rate", err);
        Assert.Contains("--exit-depths", err);
        (code, _, err) = TrainerCliTests.Cli("train", "--data", run.DataPath, "--out", run.OutDir, "--steps", "1", "--exit-depths", "1", "--token-exit-rate", "1");
        Assert.NotEqual(0, code);
        Assert.Contains("--token-exit-rate", err);
        (code, _, err) = TrainerCliTests.Cli("train", "--data", run.DataPath, "--out", run.OutDir, "--steps", "2", "--resume", "--token-exit-rate", "0.3");
        Assert.NotEqual(0, code);
        Assert.Contains("--token-exit-rate", err);
        (code, var help, _) = TrainerCliTests.Cli("train", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--token-exit-rate", help);
    }

    [Fact]
    public void An_old_training_state_without_the_rate_reads_with_it_off()
    {
        var json = JsonSerializer.Serialize(new TrainingState { Options = new TrainingOptions { DataPath = "x" } });
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!;
        Assert.True(node["options"]!.AsObject().Remove("token_exit_rate"));
        var state = JsonSerializer.Deserialize<TrainingState>(node.ToJsonString())!;
        Assert.Equal(0.0, state.Options.TokenExitRate);
    }
}
