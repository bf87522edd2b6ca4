using System.CommandLine;
using System.Globalization;
using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Training;
using static EdgeShortcut.Trainer.Cli.CliOptions;

namespace EdgeShortcut.Trainer.Cli;

/// <summary><c>train-bench</c>: training tokens/s of the baseline and the shortcut model at equal depth
/// (docs/BENCHMARKS.md). Not a unit test: it is long and its numbers depend on the machine.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var sizes = With("--sizes", "128x6,256x8", "Comma list of DIMxLAYERS sizes.");
        var heads = With("--heads", 4, "Attention heads.");
        var context = With("--context", 256, "Context length.");
        var batch = With("--batch", 16, "Sequences per step.");
        var warmup = With("--warmup-steps", 2, "Untimed steps first.");
        var steps = With("--steps", 5, "Timed steps (median reported).");
        var threads = With("--threads", 0, "Torch threads (0 = all cores).");
        var dropout = With("--dropout", 0.1, "Dropout during the measured steps.");
        var cmd = new Command("train-bench", "Measure training throughput of baseline vs shortcut at equal depth.") { sizes, heads, context, batch, warmup, steps, threads, dropout };
        cmd.SetAction(r =>
        {
            int t = r.GetValue(threads) is > 0 and var n ? n : Environment.ProcessorCount;
            TorchSharp.torch.set_num_threads(t);
            Console.WriteLine($"threads {t}, context {r.GetValue(context)}, batch {r.GetValue(batch)}, median of {r.GetValue(steps)} steps after {r.GetValue(warmup)} warm-up");
            Console.WriteLine("| size | arch | params | ms/step | tokens/s | shortcut/baseline |");
            Console.WriteLine("|---|---|---|---|---|---|");
            foreach (var size in r.GetValue(sizes)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = size.Split('x');
                if (parts.Length != 2 || !int.TryParse(parts[0], out int dim) || !int.TryParse(parts[1], out int layers))
                    throw new ArgumentException($"--sizes: '{size}' is not DIMxLAYERS (e.g. 128x6).");
                ThroughputResult? baseline = null;
                foreach (bool shortcut in new[] { false, true })
                {
                    var config = ModelConfig.Create(layers, dim, r.GetValue(heads), r.GetValue(context), shortcut: shortcut).Validate();
                    var result = ThroughputBenchmark.Measure(config, r.GetValue(batch), r.GetValue(warmup), r.GetValue(steps), r.GetValue(dropout));
                    baseline ??= result;
                    string ratio = shortcut ? (result.TokensPerSecond / baseline.TokensPerSecond).ToString("F2", CultureInfo.InvariantCulture) + "x" : "1.00x";
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| d{dim}/L{layers} | {(shortcut ? "shortcut" : "baseline")} | {result.Parameters / 1e6:F2}M | {result.MedianStepMs:F0} | {result.TokensPerSecond:F0} | {ratio} |"));
                }
            }
            return 0;
        });
        return cmd;
    }
}
