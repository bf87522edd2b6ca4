using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeShortcut.Core;
using Xunit.Abstractions;
using EdgeShortcut.Tests.Trainer;
using EdgeShortcut.Trainer.Cli;
using EdgeShortcut.Trainer.Training;
using TrainerRun = EdgeShortcut.Trainer.Training.Trainer;

namespace EdgeShortcut.Tests.Python;

/// <summary>
/// The team's rule for the two trainers (src/Trainer in TorchSharp, python/ in PyTorch): their options
/// and their math stay in lockstep. A flag added to one and not the other, a changed default, or a
/// drift in the loss, sampler, schedule, AdamW (betas, eps, decay groups), clipping or checkpoint
/// files fails here.
/// </summary>
[Collection("Torch")]
public class TrainerLockstepTests(ITestOutputHelper output)
{
    [Fact]
    public void Train_flags_are_the_same_in_both_trainers()
    {
        var csharp = TrainCommand.Create().Options.Select(o => o.Name).Where(n => n.StartsWith("--") && n != "--help").Order().ToArray();
        var python = JsonSerializer.Deserialize<string[]>(PythonSnippet("from edgeshortcut.train_cli import flag_names; print(json.dumps(flag_names()))"))!;
        Assert.Contains("--exit-depths", csharp);                    // the C# list is the real one, not empty
        Assert.Equal(csharp, python.Order().ToArray());
    }

    [Fact]
    public void Training_options_have_the_same_json_keys_and_defaults_in_both_trainers()
    {
        var csharp = JsonSerializer.SerializeToNode(new TrainingOptions())!.AsObject();
        var python = JsonNode.Parse(PythonSnippet("from edgeshortcut.options import TrainingOptions; print(json.dumps(TrainingOptions().to_json()))"))!.AsObject();
        Assert.Equal(csharp.Select(kv => kv.Key).Order(), python.Select(kv => kv.Key).Order());
        foreach (var (key, value) in csharp)
        {
            var other = python[key];
            if (value is null) Assert.True(other is null, $"{key}: C# null, Python {other}");
            else if (value.GetValueKind() == JsonValueKind.Number) Assert.True(value.GetValue<double>() == other!.GetValue<double>(), $"{key}: C# {value}, Python {other}");
            else Assert.True(value.ToJsonString() == other!.ToJsonString(), $"{key}: C# {value}, Python {other}");
        }
    }

    /// <summary>
    /// From one checkpoint (written by the C# trainer after 2 steps, so AdamW already has moments), both
    /// trainers take step 3 on the same batch with the same learning rate: same loss, same held-out NLL,
    /// same weights. Then the C# trainer resumes the Python checkpoint (its optimizer.bin and
    /// training_state.json) for step 4 and matches Python's own step 4. No randomness is involved:
    /// dropout 0, no per-token exits, batches from the shared pure sampler.
    /// </summary>
    [Fact]
    public void From_the_same_checkpoint_both_trainers_compute_the_same_loss_and_take_the_same_step()
    {
        using var run = new TempRun(6000);
        var o = new TrainingOptions
        {
            DataPath = run.DataPath, OutDir = run.OutDir, Layers = 3, Dim = 16, Heads = 2, Context = 16, Steps = 2, Batch = 4, GradAccum = 2,
            LearningRate = 1e-2, MinLearningRate = 1e-3, Warmup = 1, WeightDecay = 0.1, Clip = 0.05, Dropout = 0,
            ExitDepths = [1], ExitLossWeight = 0.5, EvalEvery = 2, EvalBatch = 8, Seed = 11, Threads = 1,
        };
        new TrainerRun(o).Run();
        string csDir = Path.Combine(run.Dir, "cs"), pyDir = Path.Combine(run.Dir, "py");
        CopyDirectory(run.OutDir, csDir);
        CopyDirectory(run.OutDir, pyDir);
        var before = Weights(run.OutDir);

        // Step 3: C# and Python, each from the C# checkpoint of step 2.
        var cs = new TrainerRun(o with { OutDir = csDir, Steps = 3 }, resume: true).Run();
        var py = PythonTools.Train("--out", pyDir, "--steps", "3", "--resume", "--threads", "1").Ok();
        AssertSameStep(cs.StepLosses[^1], PythonTools.Losses(py.Out)[3], csDir, pyDir, before);

        // Step 4: C# from the Python checkpoint of step 3 (weights, optimizer.bin, training_state.json), Python from its own.
        string csFromPy = Path.Combine(run.Dir, "cs-from-py");
        CopyDirectory(pyDir, csFromPy);
        var before4 = Weights(pyDir);
        var cs4 = new TrainerRun(o with { OutDir = csFromPy, Steps = 4 }, resume: true).Run();
        var py4 = PythonTools.Train("--out", pyDir, "--steps", "4", "--resume", "--threads", "1").Ok();
        Assert.Equal(3, cs4.Step - cs4.StepLosses.Count);                       // the C# run really started at step 3
        AssertSameStep(cs4.StepLosses[^1], PythonTools.Losses(py4.Out)[4], csFromPy, pyDir, before4);
    }

    private void AssertSameStep(double csLoss, double pyLoss, string csDir, string pyDir, Dictionary<string, NamedTensor> before)
    {
        Assert.True(Math.Abs(csLoss - pyLoss) <= 1e-5 * csLoss, $"loss: C# {csLoss}, Python {pyLoss}");
        double csVal = ValNll(csDir), pyVal = ValNll(pyDir);
        Assert.True(Math.Abs(csVal - pyVal) <= 1e-5 * csVal, $"val_nll: C# {csVal}, Python {pyVal}");
        var (a, b) = (Weights(csDir), Weights(pyDir));
        double worstDiff = 0, largestUpdate = 0;
        foreach (var (name, t) in a)
            for (int i = 0; i < t.Data.Length; i++)
            {
                worstDiff = Math.Max(worstDiff, Math.Abs(t.Data[i] - b[name].Data[i]));
                largestUpdate = Math.Max(largestUpdate, Math.Abs(t.Data[i] - before[name].Data[i]));
            }
        output.WriteLine($"loss C# {csLoss:R} Python {pyLoss:R} (rel {Math.Abs(csLoss - pyLoss) / csLoss:E2}); val_nll C# {csVal:R} Python {pyVal:R} " +
            $"(rel {Math.Abs(csVal - pyVal) / csVal:E2}); weights max diff {worstDiff:E2}, largest update {largestUpdate:E2}");
        Assert.True(largestUpdate > 5e-4, $"the step changed no weight noticeably ({largestUpdate})");
        Assert.True(worstDiff <= 1e-3 * largestUpdate, $"weights differ by {worstDiff} after a step of up to {largestUpdate}");
    }

    private static Dictionary<string, NamedTensor> Weights(string outDir) => Safetensors.Read(Path.Combine(outDir, "last", Checkpoint.WeightsFile));

    private static double ValNll(string outDir) => TrainingCheckpoint.ReadState(Path.Combine(outDir, "last")).ValNll!.Value;

    /// <summary>Runs Python code with python/ on sys.path and json imported; returns its stdout.</summary>
    internal static string PythonSnippet(string code) =>
        PythonTools.Run(["-c", $"import sys, json; sys.path.insert(0, sys.argv[1]); {code}", PythonTools.Dir]).Ok().Out;

    internal static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(dir.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, file.Replace(from, to));
    }
}
