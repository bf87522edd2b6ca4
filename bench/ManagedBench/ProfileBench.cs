using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// Where a decode step's time goes: decodes a full context through the engine's own forward pass with a
/// probe (<see cref="IForwardProbe"/>) that sums the thread CPU time of each <see cref="ForwardPhase"/>.
/// With <c>prefill</c>, the whole context is appended in one call instead, on one thread (so the calling
/// thread's CPU time is all of the work). With <c>wall</c>, the engine runs on its default threads and each phase
/// is timed on the wall clock instead: what the calling thread waits for, including the hand-offs to the helper.
/// </summary>
internal static class ProfileBench
{
    public static void Run(ModelConfig c, int rounds, ActivationPrecision activations, bool prefill = false, bool wall = false, int from = 0, int until = int.MaxValue,
        KeyValueCachePrecision cache = KeyValueCachePrecision.Float32)
    {
        using var engine = ManagedBackend.FromOnnx(RandomModel.Build(c, int8: true), "random", activations, threads: prefill && !wall ? 1 : 0, keyValueCache: cache);
        using var sequence = engine.CreateManagedSequence();
        var timer = new PhaseTimer { Seconds = new double[Enum.GetValues<ForwardPhase>().Length], Wall = wall };
        var discard = new PhaseTimer { Seconds = new double[timer.Seconds.Length], Wall = wall };
        int[] token = [0];
        for (int round = 0; round <= rounds; round++)   // round 0 warms up and is not counted
        {
            sequence.Reset();
            if (prefill)
            {
                int[] prompt = [.. Enumerable.Range(0, c.ContextLength).Select(p => (p * 31 + 7) % c.VocabSize)];
                if (round > 0) sequence.Append(prompt, ref timer);
                else sequence.Append(prompt, ref discard);
                continue;
            }
            for (int p = 0; p < c.ContextLength; p++)
            {
                token[0] = (p * 31 + 7) % c.VocabSize;
                if (round > 0 && p >= from && p < until) sequence.Append(token, ref timer);
                else sequence.Append(token, ref discard);
            }
        }
        int counted = prefill ? c.ContextLength : Math.Max(0, Math.Min(until, c.ContextLength) - from);
        double tokens = rounds * (double)counted;
        Console.WriteLine($"{(c.IsShortcut ? "shortcut" : "baseline")} L{c.Layers} d{c.Dim} ctx{c.ContextLength}, int8 file, {activations} activations, {cache} cache{(prefill ? ", prefill in one call" + (wall ? "" : ", 1 thread") : "")}: {(wall ? $"wall-clock us per token at {engine.Threads} threads" : "thread CPU us per token")}, averaged over positions {(prefill ? 0 : from)}..{(prefill ? c.ContextLength : Math.Min(until, c.ContextLength)) - 1}");
        Console.WriteLine();
        Console.WriteLine("| phase | us/token | share |");
        Console.WriteLine("|---|---|---|");
        double total = timer.Seconds.Sum();
        foreach (var phase in Enum.GetValues<ForwardPhase>())
        {
            double sec = timer.Seconds[(int)phase];
            if (sec > 0) Console.WriteLine($"| {phase} | {sec * 1e6 / tokens:F1} | {sec / total:P0} |");
        }
        Console.WriteLine($"| total | {total * 1e6 / tokens:F1} | |");
    }

    /// <summary>Sums thread CPU seconds (or wall seconds, with <see cref="Wall"/>) per phase (phases do not nest).</summary>
    private struct PhaseTimer : IForwardProbe
    {
        public double[] Seconds;
        public bool Wall;
        private double _start;

        public void Begin(ForwardPhase phase) => _start = Now();

        public readonly void End(ForwardPhase phase) => Seconds[(int)phase] += Now() - _start;

        private readonly double Now() => Wall ? System.Diagnostics.Stopwatch.GetTimestamp() / (double)System.Diagnostics.Stopwatch.Frequency : ThreadClock.Seconds();
    }
}
