namespace EdgeShortcut.Experiments;

/// <summary>The loss-curve comparison: validation NLL against training tokens, one line per arm, each
/// point the mean over the arm's finished seeds at that evaluation step (steps all of them logged).</summary>
public static class CurvePlot
{
    /// <summary>Mean curve of an arm: (tokens seen, mean val NLL) at every step logged by all its finished runs.</summary>
    public static IReadOnlyList<(long Tokens, double Nll)> MeanCurve(IEnumerable<RunResult> runs)
    {
        var done = runs.Where(r => r.Finished).ToList();
        if (done.Count == 0) return [];
        var steps = done.Select(r => r.Curve.Select(p => p.Step).ToHashSet()).Aggregate((a, b) => { a.IntersectWith(b); return a; });
        return [.. done[0].Curve.Where(p => steps.Contains(p.Step))
                    .Select(p => (p.TokensSeen, done.Average(r => r.Curve.First(q => q.Step == p.Step).ValNll)))];
    }

    /// <summary>Writes the PNG (800 x 500).</summary>
    public static void Save(string path, ExperimentSpec spec, IReadOnlyList<RunResult> results)
    {
        var plot = new ScottPlot.Plot();
        foreach (var arm in spec.Arms)
        {
            var curve = MeanCurve(results.Where(r => r.Run.Arm.Name == arm.Name));
            if (curve.Count == 0) continue;
            var line = plot.Add.Scatter(curve.Select(p => (double)p.Tokens).ToArray(), curve.Select(p => p.Nll).ToArray());
            int seeds = results.Count(r => r.Run.Arm.Name == arm.Name && r.Finished);
            line.LegendText = $"{arm.Name} ({seeds} seed{(seeds == 1 ? "" : "s")})";
            line.LineWidth = 2;
            line.MarkerSize = 4;
        }
        plot.Title($"{spec.Name}: validation NLL (mean over seeds)");
        plot.XLabel("training tokens seen");
        plot.YLabel($"val NLL (nats/{SweepReport.Unit(spec)})");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        // The first evaluations sit far above the rest; zoom on the part where arms differ.
        var tail = results.Where(r => r.Finished).SelectMany(r => r.Curve.Skip(r.Curve.Count / 4)).Select(p => p.ValNll).ToList();
        if (tail.Count > 0) plot.Axes.SetLimitsY(tail.Min() - 0.02, tail.Max() + 0.02);
        plot.SavePng(path, 800, 500);
    }
}
