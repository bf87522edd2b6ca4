using System.Diagnostics;
using System.Numerics.Tensors;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.ManagedBench;

/// <summary>Greedy decode from one token to a full context, and a full-context prefill, timed per run.</summary>
internal static class DecodeBench
{
    public static void Run(string label, ManagedBackend engine, int runs)
    {
        var c = engine.Config;
        int ctx = c.ContextLength;
        using var s = engine.CreateManagedSequence();
        var prompt = Enumerable.Range(0, ctx).Select(i => (i * 31 + 7) % c.VocabSize).ToArray();
        var decodeSeconds = new List<double>();
        var decodeCpu = new List<double>();
        var prefillMs = new List<double>();
        var prefillCpuMs = new List<double>();
        long allocated = 0;
        for (int r = 0; r < runs + 1; r++)   // run 0 warms the JIT up and is discarded
        {
            s.Reset();
            double cpu0 = ThreadClock.Seconds();
            var sw = Stopwatch.StartNew();
            s.Append(prompt);
            double prefill = sw.Elapsed.TotalMilliseconds;
            double prefillCpu = (ThreadClock.Seconds() - cpu0) * 1e3;

            s.Reset();
            int[] token = [prompt[0]];
            var logits = s.Append(token);
            long before = GC.GetAllocatedBytesForCurrentThread();
            cpu0 = ThreadClock.Seconds();
            sw.Restart();
            while (s.Length < ctx)
            {
                token[0] = TensorPrimitives.IndexOfMax(logits);
                logits = s.Append(token);
            }
            double seconds = sw.Elapsed.TotalSeconds;
            double cpuSeconds = ThreadClock.Seconds() - cpu0;
            if (r == 0) continue;
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            decodeSeconds.Add(seconds);
            decodeCpu.Add(cpuSeconds);
            prefillMs.Add(prefill);
            prefillCpuMs.Add(prefillCpu);
        }
        double tokensPerSecond = (ctx - 1) / Stats.Median(decodeSeconds);
        double cpuTokensPerSecond = (ctx - 1) / Stats.Median(decodeCpu);
        long bytes = engine.WeightBytesPerToken;
        Console.WriteLine($"| {label} | {(engine.IsInt8 ? "int8 x int8" : "float")} | {bytes / 1024.0 / 1024.0:F2} MiB | {tokensPerSecond:F0} | {cpuTokensPerSecond:F0} | " +
            $"{1e6 / cpuTokensPerSecond:F1} | {Stats.Median(prefillMs):F1} / {Stats.Median(prefillCpuMs):F1} | {allocated / (double)(runs * (ctx - 1)):F0} | {bytes * cpuTokensPerSecond / 1e9:F1} |");
    }
}
