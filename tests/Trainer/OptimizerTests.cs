using EdgeShortcut.Trainer.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using TrainerRun = EdgeShortcut.Trainer.Training.Trainer;

namespace EdgeShortcut.Tests.Trainer;

/// <summary>The optimizer is nanoGPT's (docs/EXPERIMENTS.md, "Trainer recipe vs nanoGPT"): AdamW with
/// betas (0.9, 0.95), eps 1e-8, decoupled decay on 2+-D parameters only.</summary>
[Collection("Torch")]
public class OptimizerTests
{
    [Fact]
    public void Groups_decay_matrices_and_embeddings_only_with_nanogpt_betas_and_eps()
    {
        var c = TinyModels.Shortcut;
        using var model = TinyModels.Create(c);
        using var opt = TrainerRun.CreateOptimizer(model, new TrainingOptions { WeightDecay = 0.1, LearningRate = 1e-3 });
        var groups = opt.ParamGroups.Cast<AdamW.ParamGroup>().ToList();
        Assert.Equal(2, groups.Count);
        var decay = groups[0].Options;
        var rest = groups[1].Options;
        Assert.Equal(model.parameters().Count(p => p.dim() >= 2), groups[0].Parameters.Count());
        Assert.All(groups[1].Parameters, p => Assert.True(p.dim() < 2));
        foreach (var (o, wd) in new[] { (decay, 0.1), (rest, 0.0) })
        {
            Assert.Equal(0.9, o.beta1);
            Assert.Equal(0.95, o.beta2);
            Assert.Equal(1e-8, o.eps);
            Assert.Equal(wd, o.weight_decay);
            Assert.False(o.amsgrad);
        }
    }

    [Fact]
    public void Two_steps_follow_the_decoupled_adamw_update()
    {
        using var p = new Parameter(tensor(new[] { 1.0, -2.0 }, dtype: ScalarType.Float64));
        using var opt = optim.AdamW([new AdamW.ParamGroup([p], lr: 0.1, beta1: 0.9, beta2: 0.95, weight_decay: 0.1)], lr: 0.1, beta1: 0.9, beta2: 0.95);
        double[] x = [1.0, -2.0], m = [0, 0], v = [0, 0];
        double[][] grads = [[0.5, -3.0], [-1.0, 2.0]];
        for (int step = 1; step <= 2; step++)
        {
            p.grad = tensor(grads[step - 1], dtype: ScalarType.Float64);
            opt.step();
            for (int i = 0; i < 2; i++)
            {
                double g = grads[step - 1][i];
                x[i] *= 1 - 0.1 * 0.1;
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.95 * v[i] + 0.05 * g * g;
                double mHat = m[i] / (1 - Math.Pow(0.9, step)), vHat = v[i] / (1 - Math.Pow(0.95, step));
                x[i] -= 0.1 * mHat / (Math.Sqrt(vHat) + 1e-8);
            }
            var got = p.data<double>().ToArray();
            for (int i = 0; i < 2; i++) Assert.Equal(x[i], got[i], 12);
        }
    }
}
