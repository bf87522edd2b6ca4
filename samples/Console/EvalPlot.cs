namespace EdgeShortcut.ConsoleSample;

/// <summary>The trade-off of one <c>eval</c> run as a PNG (ScottPlot): held-out NLL (y, lower is better)
/// against decode tokens/s (x, right is faster), one labelled point per policy and per baseline model,
/// so "lower and to the right" is the better operating point.</summary>
internal static class EvalPlot
{
    /// <summary>One point: its label, tokens/s and NLL.</summary>
    public readonly record struct Point(string Label, double TokensPerS, double Nll, bool Baseline);

    public static byte[] Png(IReadOnlyList<Point> points, string title, string unit)
    {
        var plot = new ScottPlot.Plot();
        foreach (bool baseline in new[] { false, true })
        {
            var group = points.Where(p => p.Baseline == baseline).OrderBy(p => p.TokensPerS).ToList();
            if (group.Count == 0) continue;
            var scatter = plot.Add.Scatter(group.Select(p => p.TokensPerS).ToArray(), group.Select(p => p.Nll).ToArray());
            scatter.LineWidth = 0;
            scatter.MarkerSize = 9;
            scatter.LegendText = baseline ? "baseline models (full depth)" : "depth policies of the model";
            foreach (var p in group)
            {
                var label = plot.Add.Text(p.Label, p.TokensPerS, p.Nll);
                label.LabelFontSize = 11;
                label.OffsetX = 6;
                label.OffsetY = -6;
            }
        }
        plot.Axes.Margins(horizontal: 0.15, vertical: 0.1);   // room for the labels right of the points
        plot.XLabel("decode tokens/s (managed engine, teacher-forced, one token per step)");
        plot.YLabel($"held-out NLL (nats/{unit})");
        plot.Title(title);
        plot.ShowLegend();
        return plot.GetImageBytes(900, 560, ScottPlot.ImageFormat.Png);
    }
}
