using System.Diagnostics;

namespace EdgeShortcut.Fuzz;

/// <summary>
/// Runs a seeded mutation loop on one target and classifies each case: accepted, a typed error of the
/// loader (counted by type), or a finding: an untyped exception, a case slower than
/// <see cref="HangLimit"/> (a watchdog thread reports it and stops the process, since a hung call cannot
/// be abandoned safely), or a case that allocates more than <see cref="AllocationLimit"/> managed bytes
/// (a size taken from the file and trusted).
/// </summary>
public static class FuzzRunner
{
    /// <summary>Longest a case may take.</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(5);

    /// <summary>Managed bytes a case may allocate: loading a tiny model costs a few times its size, so
    /// anything near this bound came from an unchecked number.</summary>
    public static long AllocationLimit(int inputBytes) => (64L << 20) + 64L * inputBytes;

    /// <summary>Runs <paramref name="cases"/> mutated inputs from <paramref name="seed"/>; with
    /// <paramref name="onHang"/> null a hang ends the process with exit code 1 after printing the case.</summary>
    public static FuzzReport Run(FuzzTarget target, int cases, int seed, string scratch, Action<FuzzFinding>? onHang = null, Action<int, byte[]>? beforeCase = null)
    {
        var random = new Random(seed);
        return Replay(target, Enumerable.Range(0, cases).Select(_ => MutateOne(target, random)), scratch, onHang, beforeCase);
    }

    /// <summary>A structured mutation of a random seed; a mutator that cannot apply its edit falls back to a byte mutation.</summary>
    private static byte[] MutateOne(FuzzTarget target, Random random)
    {
        byte[] seed = target.Seeds[random.Next(target.Seeds.Count)];
        try { return target.Mutate(seed, random); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or OverflowException)
        {
            return ByteMutations.Mutate(seed, random);
        }
    }

    /// <summary>Runs the given inputs (saved reproducers, or a mutation stream) and classifies each.
    /// <paramref name="beforeCase"/> sees each input first (the CLI saves it, so a native crash, which no
    /// handler survives, leaves its input on disk).</summary>
    public static FuzzReport Replay(FuzzTarget target, IEnumerable<byte[]> inputs, string scratch, Action<FuzzFinding>? onHang = null, Action<int, byte[]>? beforeCase = null)
    {
        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var findings = new List<FuzzFinding>();
        var clock = Stopwatch.StartNew();
        long caseStart = 0;
        int index = -1;
        byte[] current = [];
        using var stop = new CancellationTokenSource();
        var watchdog = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                long started = Interlocked.Read(ref caseStart);
                if (started > 0 && Stopwatch.GetElapsedTime(started) > HangLimit)
                {
                    var hang = new FuzzFinding("hang", index, $"case took more than {HangLimit.TotalSeconds:F0} s", current);
                    if (onHang is null)
                    {
                        Console.Error.WriteLine($"FINDING {target.Name} case {index}: hang (> {HangLimit.TotalSeconds:F0} s)");
                        Environment.Exit(1);
                    }
                    onHang(hang);
                    Interlocked.Exchange(ref caseStart, 0);
                }
                stop.Token.WaitHandle.WaitOne(100);
            }
        }) { IsBackground = true, Name = "fuzz watchdog" };
        watchdog.Start();
        try
        {
            foreach (var input in inputs)
            {
                index++;
                current = input;
                string outcome;
                beforeCase?.Invoke(index, input);
                long before = GC.GetAllocatedBytesForCurrentThread();
                Interlocked.Exchange(ref caseStart, Stopwatch.GetTimestamp());
                try
                {
                    target.Load(input, scratch);
                    outcome = "accepted";
                }
                catch (Exception e) when (target.IsExpected(e)) { outcome = e.GetType().Name; }
                catch (Exception e)
                {
                    outcome = $"UNTYPED {e.GetType().Name}";
                    findings.Add(new FuzzFinding("untyped exception", index, e.ToString(), input));
                }
                finally { Interlocked.Exchange(ref caseStart, 0); }
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (allocated > AllocationLimit(input.Length))
                    findings.Add(new FuzzFinding("oversized allocation", index, $"{allocated:N0} managed bytes for a {input.Length:N0}-byte input", input));
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            }
        }
        finally { stop.Cancel(); }
        return new FuzzReport(target.Name, index + 1, outcomes, findings, clock.Elapsed);
    }
}
