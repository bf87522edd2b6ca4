using System.Diagnostics;
using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using EdgeShortcut.Measure;

namespace EdgeShortcut.Trainer.Training;

/// <summary>Median training throughput of one config.</summary>
/// <param name="Config">The model measured.</param>
/// <param name="Parameters">Parameter count.</param>
/// <param name="MedianStepMs">Median wall time of one optimizer step (forward, backward, clip, AdamW).</param>
/// <param name="TokensPerSecond">batch x T / median step time.</param>
public sealed record ThroughputResult(ModelConfig Config, long Parameters, double MedianStepMs, double TokensPerSecond);

/// <summary>
/// Measures training steps exactly as <see cref="Trainer"/> runs them (same model, loss, clipping,
/// AdamW), on random tokens so no disk is involved: warm-up steps first, then the median of the
/// timed steps (the machine is shared, so medians, not means).
/// </summary>
public static class ThroughputBenchmark
{
    /// <summary>Runs <paramref name="warmupSteps"/> untimed and <paramref name="timedSteps"/> timed steps.</summary>
    public static ThroughputResult Measure(ModelConfig config, int batch, int warmupSteps, int timedSteps, double dropout = 0.1)
    {
        torch.manual_seed(0);
        using var model = new ShortcutGpt(config, dropout);
        model.train();
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-4, beta1: 0.9, beta2: 0.95, weight_decay: 0.1);
        var parameters = model.parameters().ToList();
        var gen = new Generator(1);
        var times = new List<double>();
        for (int s = 0; s < warmupSteps + timedSteps; s++)
        {
            using var scope = NewDisposeScope();
            var x = randint(0, config.VocabSize, [batch, config.ContextLength], dtype: ScalarType.Int64, generator: gen);
            var y = randint(0, config.VocabSize, [batch * config.ContextLength], dtype: ScalarType.Int64, generator: gen);
            var sw = Stopwatch.StartNew();
            var loss = nn.functional.cross_entropy(model.forward(x).view(-1, config.VocabSize), y);
            loss.backward();
            nn.utils.clip_grad_norm_(parameters, 1.0);
            optimizer.step();
            optimizer.zero_grad();
            _ = loss.item<float>();
            sw.Stop();
            if (s >= warmupSteps) times.Add(sw.Elapsed.TotalMilliseconds);
        }
        double median = Stats.Median(times);
        return new ThroughputResult(config, TensorNames.ParameterCount(config), median, batch * config.ContextLength / (median / 1000));
    }
}
