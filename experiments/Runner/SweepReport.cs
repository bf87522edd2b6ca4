using System.Globalization;
using System.Text;
using EdgeShortcut.Core;

namespace EdgeShortcut.Experiments;

/// <summary>
/// Writes a sweep's results under <c>OUT/report/</c>: <c>summary.md</c> (the table), <c>summary.csv</c>
/// (one row per arm), <c>runs.csv</c> (one row per run) and <c>curves.png</c> (validation NLL vs tokens,
/// one line per arm = mean over its finished seeds). Reads only the run directories, so it can run while
/// a sweep is training and again at the end.
/// </summary>
public static class SweepReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Collects every planned run's result and writes the four files; returns the arm rows.</summary>
    public static IReadOnlyList<ArmSummary> Write(ExperimentSpec spec, IReadOnlyList<PlannedRun> plan, string outDir)
    {
        var results = plan.Select(RunResult.Read).ToList();
        var arms = ArmSummary.Of(spec, results);
        string dir = Path.Combine(Path.GetFullPath(outDir), "report");
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, "runs.csv"), RunsCsv(results));
        AtomicFile.WriteAllText(Path.Combine(dir, "summary.csv"), SummaryCsv(spec, arms));
        AtomicFile.WriteAllText(Path.Combine(dir, "summary.md"), Markdown(spec, arms, results));
        if (arms.Count > 0) CurvePlot.Save(Path.Combine(dir, "curves.png"), spec, results);
        return arms;
    }

    /// <summary>"byte" for the byte tokenizer, else "token": the unit NLL is per.</summary>
    public static string Unit(ExperimentSpec spec) => spec.TokenVocab is null ? "byte" : "token";

    private static string RunsCsv(IReadOnlyList<RunResult> results)
    {
        var sb = new StringBuilder("arm,seed,params,steps_done,steps,tokens_seen,wall_s,best_val_nll,final_val_nll,finished\n");
        foreach (var r in results)
            sb.Append(Inv, $"{r.Run.Arm.Name},{r.Run.Seed},{r.Parameters},{r.Step},{r.Run.Options.Steps},{r.TokensSeen},{r.WallSeconds:F1},")
              .Append(Inv, $"{r.BestValNll?.ToString("F6", Inv)},{r.FinalValNll?.ToString("F6", Inv)},{r.Finished}\n");
        return sb.ToString();
    }

    private static string SummaryCsv(ExperimentSpec spec, IReadOnlyList<ArmSummary> arms)
    {
        var reference = arms.FirstOrDefault(a => a.Arm.Name == spec.Reference);
        var sb = new StringBuilder("arm,params,seeds_done,seeds_planned,tokens_seen,wall_s_mean,best_nll_mean,best_nll_std,best_nll_min,best_nll_max,"
            + "final_nll_mean,final_nll_std,final_nll_min,final_nll_max,final_bits_mean,delta_vs_reference,verdict\n");
        foreach (var a in arms)
            sb.Append(Inv, $"{a.Arm.Name},{a.Parameters},{a.Runs},{a.Planned},{a.TokensSeen},{a.WallSeconds:F1},")
              .Append(Inv, $"{a.Best.Mean:F6},{a.Best.Std:F6},{a.Best.Min:F6},{a.Best.Max:F6},")
              .Append(Inv, $"{a.Final.Mean:F6},{a.Final.Std:F6},{a.Final.Min:F6},{a.Final.Max:F6},{a.Final.Mean / Math.Log(2):F6},")
              .Append(Inv, $"{(reference is null ? "" : (a.Final.Mean - reference.Final.Mean).ToString("F6", Inv))},{(reference is null ? "" : a.Verdict(reference))}\n");
        return sb.ToString();
    }

    private static string Markdown(ExperimentSpec spec, IReadOnlyList<ArmSummary> arms, IReadOnlyList<RunResult> results)
    {
        string u = Unit(spec);
        var reference = arms.FirstOrDefault(a => a.Arm.Name == spec.Reference);
        var sb = new StringBuilder();
        sb.Append(Inv, $"### {spec.Name}\n\n");
        sb.Append(Inv, $"Validation NLL in nats/{u} (bits/{u} = nats / ln 2); mean ± sample std over seeds, [min, max] in brackets. ");
        sb.Append(Inv, $"{results.Count(r => r.Finished)} of {results.Count} runs finished.");
        if (reference is not null) sb.Append(Inv, $" Δ = final NLL minus `{reference.Arm.Name}`'s; verdict \"tie\" when the [min, max] ranges overlap.");
        sb.Append("\n\n| arm | params | seeds | tokens | train s/run | best NLL | final NLL | final bits/" + u + (reference is null ? "" : " | Δ final | verdict") + " | note |\n");
        sb.Append("|---|---:|---:|---:|---:|---|---|---:|" + (reference is null ? "" : "---:|---|") + "---|\n");
        foreach (var a in arms)
        {
            sb.Append(Inv, $"| {a.Arm.Name} | {a.Parameters:N0} | {a.Runs}/{a.Planned} | {a.TokensSeen:N0} | {a.WallSeconds:F0} | ");
            sb.Append(Inv, $"{a.Best.Mean:F4} ± {a.Best.Std:F4} [{a.Best.Min:F4}, {a.Best.Max:F4}] | ");
            sb.Append(Inv, $"{a.Final.Mean:F4} ± {a.Final.Std:F4} [{a.Final.Min:F4}, {a.Final.Max:F4}] | {a.Final.Mean / Math.Log(2):F4} | ");
            if (reference is not null) sb.Append(Inv, $"{a.Final.Mean - reference.Final.Mean:+0.0000;-0.0000;0.0000} | {a.Verdict(reference)} | ");
            sb.Append(a.Arm.Note).Append(" |\n");
        }
        foreach (var missing in spec.Arms.Where(s => arms.All(a => a.Arm.Name != s.Name)))
            sb.Append(Inv, $"\n- `{missing.Name}`: no finished run yet.");
        return sb.Append('\n').ToString();
    }
}
