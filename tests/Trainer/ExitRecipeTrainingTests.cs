using System.Text.Json;
using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;
using TrainerRun = EdgeShortcut.Trainer.Training.Trainer;

namespace EdgeShortcut.Tests.Trainer;

/// <summary>Training with the exit recipe (--exit-depths, --exit-loss-weight), and that without it
/// the numbers are those of the trainer before the recipe existed.</summary>
[Collection("Torch")]
public class ExitRecipeTrainingTests
{
    /// <summary>Step losses of <c>TempRun.Options(4)</c> (shortcut, dropout 0.1) with the trainer as it was
    /// before the exit recipe (commit ebff0e8), printed with "R" precision on an AVX2 CPU. libtorch picks other
    /// kernels on an AVX-512 CPU, which moves the last bits (the first loss by 2.4e-7 on a Zen 5), so the test
    /// allows <see cref="CpuKernelTolerance"/>; anything the recipe could leak into training (an extra loss term,
    /// extra random draws) moves the losses by more than 1e-4.</summary>
    private const double CpuKernelTolerance = 1e-6;

    private static readonly double[] LossesBeforeTheRecipe = [5.559504985809326, 5.502682447433472, 5.401879787445068, 5.332771062850952];

    [Fact]
    public void Without_exit_depths_training_is_unchanged()
    {
        using var run = new TempRun();
        var result = new TrainerRun(TempRun.PinnedDefaults(run.Options(4))).Run();
        Assert.True(LossesBeforeTheRecipe.Length == result.StepLosses.Count
                && LossesBeforeTheRecipe.Zip(result.StepLosses).All(p => Math.Abs(p.First - p.Second) <= CpuKernelTolerance * Math.Abs(p.First)),
            $"losses {string.Join(", ", result.StepLosses.Select(l => l.ToString("R")))}");
    }

    [Fact]
    public void Exit_recipe_training_records_the_depths_checkpoints_and_resumes_exactly()
    {
        using var a = new TempRun();
        using var b = new TempRun();
        TrainingOptions Recipe(TempRun r) => r.Options(6) with { Layers = 4, ExitDepths = [1, 2], ExitLossWeight = 0.5 };
        var full = new TrainerRun(Recipe(a)).Run();

        using var stop = new CancellationTokenSource();
        var first = new TrainerRun(Recipe(b)).Run(p => { if (p.Step == 3) stop.Cancel(); }, stop.Token);
        Assert.True(first.Cancelled);
        var second = new TrainerRun(Recipe(b), resume: true).Run();
        var resumed = first.StepLosses.Concat(second.StepLosses).ToArray();
        Assert.Equal(6, resumed.Length);
        for (int i = 0; i < 6; i++) Assert.True(Math.Abs(full.StepLosses[i] - resumed[i]) < 1e-5, $"step {i + 1}: {full.StepLosses[i]} vs {resumed[i]}");
        Assert.Equal(full.LastValidation!.MeanNll, second.LastValidation!.MeanNll, 5);

        string last = TrainerRun.LastDir(b.OutDir);
        var (config, _) = Checkpoint.Load(last);
        Assert.Equal([1, 2], config.Model.ExitDepths.ToArray());
        Assert.Contains("\"exit_depths\"", File.ReadAllText(Path.Combine(last, Checkpoint.ConfigFile)));
        var state = TrainingCheckpoint.ReadState(last);
        Assert.Equal([1, 2], state.Options.ExitDepths!.Value.ToArray());
        Assert.Equal(0.5, state.Options.ExitLossWeight);
    }

    [Fact]
    public void The_recipe_loss_is_the_full_loss_plus_w_times_the_mean_exit_loss()
    {
        var c = TinyModels.Shortcut with { Layers = 4, Taps = [1, 2, 3], ExitDepths = [1, 2] };
        using var model = TinyModels.Create(c);
        using var ids = TinyModels.Ids(2, c.ContextLength, c.VocabSize, seed: 1);
        using var y = TinyModels.Ids(2, c.ContextLength, c.VocabSize, seed: 2).view(-1);
        var logits = model.forward(ids, c.AllExits);
        double Ce(Tensor l) => nn.functional.cross_entropy(l.reshape(-1, c.VocabSize), y).item<float>();
        double want = Ce(logits[2]) + 0.25 * (Ce(logits[0]) + Ce(logits[1])) / 2;
        using var w = 0.25.ToScalar();
        using var got = TrainerRun.ExitRecipeLoss(logits, y, c.VocabSize, w);
        Assert.Equal(want, got.item<float>(), 5);
    }

    [Fact]
    public void Bad_recipe_options_name_their_flag()
    {
        using var run = new TempRun();
        foreach (var (options, flag) in new[]
        {
            (run.Options(1) with { ExitDepths = [2] }, "--exit-depths"),                    // L = 3: exits are 1..1
            (run.Options(1) with { ExitDepths = [0] }, "--exit-depths"),
            (run.Options(1) with { Shortcut = false, Taps = null, ExitDepths = [1] }, "--exit-depths"),
            (run.Options(1) with { ExitDepths = [1], ExitLossWeight = -1 }, "--exit-loss-weight"),
        })
            Assert.Contains(flag, Assert.Throws<ArgumentException>(() => options.Validate()).Message);
        Assert.Equal([1, 2], EdgeShortcut.Trainer.Cli.TrainCommand.ParseExitDepths("1, 2")!.Value.ToArray());
        Assert.Null(EdgeShortcut.Trainer.Cli.TrainCommand.ParseExitDepths("none"));
        Assert.Throws<ArgumentException>(() => EdgeShortcut.Trainer.Cli.TrainCommand.ParseExitDepths("1,x"));
    }

    [Fact]
    public void An_old_training_state_without_recipe_fields_reads_with_the_recipe_off()
    {
        var json = JsonSerializer.Serialize(new TrainingState { Options = new TrainingOptions { DataPath = "x" } });
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!;
        node["options"]!.AsObject().Remove("exit_depths");
        node["options"]!.AsObject().Remove("exit_loss_weight");
        var state = JsonSerializer.Deserialize<TrainingState>(node.ToJsonString())!;
        Assert.Null(state.Options.ExitDepths);
        Assert.Equal(1.0, state.Options.ExitLossWeight);
        Assert.True(state.Options.ModelConfig().ExitDepths.IsEmpty);
    }
}
