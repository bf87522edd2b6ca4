namespace EdgeShortcut.Experiments;

/// <summary>Mean, sample standard deviation and range of a few numbers (one per seed).</summary>
/// <param name="Mean">Arithmetic mean.</param>
/// <param name="Std">Sample standard deviation (n - 1); 0 for a single value.</param>
/// <param name="Min">Smallest value.</param>
/// <param name="Max">Largest value.</param>
public readonly record struct Spread(double Mean, double Std, double Min, double Max)
{
    /// <summary>The spread of <paramref name="values"/> (at least one).</summary>
    public static Spread Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        double mean = values.Average();
        double std = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
        return new Spread(mean, std, values.Min(), values.Max());
    }

    /// <summary>True when the two [min, max] ranges do not overlap: the difference is larger than the seed spread.</summary>
    public bool Separated(Spread other) => Max < other.Min || other.Max < Min;
}

/// <summary>One arm's row of the table: its finished seeds aggregated.</summary>
/// <param name="Arm">The arm.</param>
/// <param name="Parameters">Parameter count.</param>
/// <param name="Runs">Finished runs (one per seed).</param>
/// <param name="Planned">Runs the spec asks for.</param>
/// <param name="TokensSeen">Training tokens per run.</param>
/// <param name="WallSeconds">Mean training wall time per run.</param>
/// <param name="Best">Best validation NLL over seeds (nats/token).</param>
/// <param name="Final">Final validation NLL over seeds (nats/token).</param>
public sealed record ArmSummary(ArmSpec Arm, long Parameters, int Runs, int Planned, long TokensSeen, double WallSeconds, Spread Best, Spread Final)
{
    /// <summary>Aggregates the finished runs of each arm, in spec order; arms without a finished run are left out.</summary>
    public static IReadOnlyList<ArmSummary> Of(ExperimentSpec spec, IReadOnlyList<RunResult> results) =>
    [
        .. from arm in spec.Arms
           let all = results.Where(r => r.Run.Arm.Name == arm.Name).ToList()
           let done = all.Where(r => r.Finished).ToList()
           where done.Count > 0
           select new ArmSummary(arm, done[0].Parameters, done.Count, all.Count, done[0].TokensSeen, done.Average(r => r.WallSeconds),
               Spread.Of([.. done.Select(r => r.BestValNll!.Value)]), Spread.Of([.. done.Select(r => r.FinalValNll!.Value)])),
    ];

    /// <summary>"better" / "worse" when the final-NLL ranges over seeds do not overlap, else "tie";
    /// "n/a" while either arm has fewer than two finished seeds (a single seed has no spread to judge by).</summary>
    public string Verdict(ArmSummary reference) =>
        ReferenceEquals(this, reference) ? "reference" :
        Runs < 2 || reference.Runs < 2 ? "n/a" :
        !Final.Separated(reference.Final) ? "tie" : Final.Mean < reference.Final.Mean ? "better" : "worse";
}
