using System.Diagnostics;
using System.Numerics.Tensors;
using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// Decode cost of several models measured in alternation (round-robin, many rounds, medians), so
/// load on a shared machine hits all of them alike: the fair way to state a ratio. The ratio columns
/// are against the last row: the median over rounds of each round's own ratio (neighbouring runs
/// share the machine's state, so drift cancels), and the ratio of the best (least disturbed) rounds.
/// </summary>
internal static class CompareBench
{
    public static void Run(IReadOnlyList<(string Label, ManagedBackend Engine)> engines, int rounds)
    {
        var samples = engines.Select(_ => new List<double>()).ToArray();
        var cpuSamples = engines.Select(_ => new List<double>()).ToArray();
        var sequences = engines.Select(e => e.Engine.CreateManagedSequence()).ToArray();
        for (int round = 0; round < rounds + 1; round++)
            for (int i = 0; i < engines.Count; i++)
            {
                var (us, cpuUs) = DecodeMicrosPerToken(sequences[i], engines[i].Engine.Config);
                if (round > 0) { samples[i].Add(us); cpuSamples[i].Add(cpuUs); }
            }
        Console.WriteLine("| model | weight bytes/token | wall us/token (median) | thread CPU us/token (median / best) | CPU tokens/s (median) | CPU vs last row: median of per-round ratios | best vs best |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        for (int i = 0; i < engines.Count; i++)
        {
            double us = Stats.Median(samples[i]), cpu = Stats.Median(cpuSamples[i]), best = cpuSamples[i].Min();
            double pairedRatio = Stats.Median([.. cpuSamples[i].Zip(cpuSamples[^1], (a, b) => a / b)]);
            Console.WriteLine($"| {engines[i].Label} | {engines[i].Engine.WeightBytesPerToken / 1048576.0:F2} MiB | {us:F1} | {cpu:F1} / {best:F1} | {1e6 / cpu:F0} | {pairedRatio:F2}x | {best / cpuSamples[^1].Min():F2}x |");
        }
        foreach (var s in sequences) s.Dispose();
    }

    /// <summary>Greedy decode from one token to the full context; mean wall and thread-CPU microseconds per decoded token.</summary>
    public static (double Wall, double Cpu) DecodeMicrosPerToken(IInferenceSequence s, ModelConfig c)
    {
        s.Reset();
        int[] token = [7];
        var logits = s.Append(token);
        long start = Stopwatch.GetTimestamp();
        double cpuStart = ThreadClock.Seconds();
        while (s.Length < c.ContextLength)
        {
            token[0] = TensorPrimitives.IndexOfMax(logits);
            logits = s.Append(token);
        }
        double cpu = (ThreadClock.Seconds() - cpuStart) * 1e6 / (c.ContextLength - 1);
        return (Stopwatch.GetElapsedTime(start).TotalMicroseconds / (c.ContextLength - 1), cpu);
    }
}
