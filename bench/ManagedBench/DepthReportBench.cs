using System.Diagnostics;
using System.Numerics.Tensors;
using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// What depth policies and depth reports cost per decoded token (issue 10: "when nobody asks for reports they
/// cost no allocation and no measurable time"). Contenders decode greedily from one token to a full context,
/// interleaved round by round on one engine: the sequence's plain <c>Append</c> (no depth machinery), then the
/// generator's <see cref="DepthRunner"/> at full depth and adaptive depth, each with reports off and on.
/// </summary>
internal static class DepthReportBench
{
    public static void Run(ManagedBackend engine, int rounds)
    {
        var c = engine.Config;
        var contenders = new List<(string Label, Func<IInferenceSequence, Func<int, ReadOnlySpan<float>>> Make)>
        {
            ("sequence.Append (no depth machinery)", Plain),
            ("DepthRunner full, reports off", s => Runner(s, c, DepthPolicy.Full, false)),
            ("DepthRunner full, reports on", s => Runner(s, c, DepthPolicy.Full, true)),
        };
        if (!c.ExitDepths.IsEmpty)
        {
            contenders.Add(("DepthRunner adaptive:0.2, reports off", s => Runner(s, c, DepthPolicy.Adaptive(0.2f), false)));
            contenders.Add(("DepthRunner adaptive:0.2, reports on", s => Runner(s, c, DepthPolicy.Adaptive(0.2f), true)));
        }
        var cpu = contenders.Select(_ => new List<double>()).ToArray();
        var alloc = contenders.Select(_ => new List<double>()).ToArray();
        var sequences = contenders.Select(_ => engine.CreateManagedSequence()).ToArray();
        for (int round = 0; round < rounds + 1; round++)           // round 0 warms up (JIT), untimed
            for (int k = 0; k < contenders.Count; k++)
            {
                int i = (round + k) % contenders.Count;            // rotate the order so no contender always runs first
                var (us, bytes) = Decode(sequences[i], contenders[i].Make(sequences[i]), c);
                if (round > 0) { cpu[i].Add(us); alloc[i].Add(bytes); }
            }
        Console.WriteLine($"| decode path ({c.Layers} layers, d {c.Dim}, exits {(c.ExitDepths.IsEmpty ? "none" : string.Join(",", c.ExitDepths))}) | thread CPU us/token (median / best) | vs row 1: median of per-round ratios | alloc B/token (max) |");
        Console.WriteLine("|---|---|---|---|");
        for (int i = 0; i < contenders.Count; i++)
        {
            double ratio = Stats.Median([.. cpu[i].Zip(cpu[0], (a, b) => a / b)]);
            Console.WriteLine($"| {contenders[i].Label} | {Stats.Median(cpu[i]):F1} / {cpu[i].Min():F1} | {ratio:F3}x | {alloc[i].Max():F1} |");
        }
        foreach (var s in sequences) s.Dispose();
    }

    private static Func<int, ReadOnlySpan<float>> Plain(IInferenceSequence s)
    {
        var token = new int[1];
        return t => { token[0] = t; return s.Append(token); };
    }

    private static Func<int, ReadOnlySpan<float>> Runner(IInferenceSequence s, ModelConfig c, DepthPolicy policy, bool report)
    {
        var runner = new DepthRunner(s, c, new GenerationOptions { Depth = policy, ReportDepth = report });
        var token = new int[1];
        return t => { token[0] = t; return runner.Run(token); };
    }

    /// <summary>Greedy decode from one token to the full context: thread-CPU microseconds and bytes allocated per token.</summary>
    private static (double CpuMicros, double Bytes) Decode(ManagedSequence s, Func<int, ReadOnlySpan<float>> step, ModelConfig c)
    {
        s.Reset();
        int next = TensorPrimitives.IndexOfMax(step(7));
        long bytes = GC.GetAllocatedBytesForCurrentThread();
        double start = ThreadClock.Seconds();
        while (s.Length < c.ContextLength) next = TensorPrimitives.IndexOfMax(step(next));
        double cpu = (ThreadClock.Seconds() - start) * 1e6 / (c.ContextLength - 1);
        return (cpu, (GC.GetAllocatedBytesForCurrentThread() - bytes) / (double)(c.ContextLength - 1));
    }
}
