namespace EdgeShortcut.ConsoleSample;

/// <summary>The depth map as a PNG heatmap (ScottPlot): the text's characters along x, the tapped layers
/// along y (shallowest at the bottom), each cell the final block's attention mass on that layer's memory
/// entries when predicting after that character.</summary>
internal static class DepthMapPlot
{
    private const int CellWidth = 16, Height = 320, MinWidth = 480, MaxWidth = 4800;

    public static byte[] Png(IReadOnlyList<DepthMapEntry> entries, IReadOnlyList<int> taps, string title)
    {
        int columns = entries.Count, rows = taps.Count;
        var mass = new double[rows, columns];   // row 0 is drawn at the top: the deepest tap goes first
        for (int x = 0; x < columns; x++)
            for (int j = 0; j < rows; j++)
                mass[rows - 1 - j, x] = entries[x].TapAttention.Length > j ? entries[x].TapAttention[j] : double.NaN;

        var plot = new ScottPlot.Plot();
        var heatmap = plot.Add.Heatmap(mass);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        heatmap.Extent = new ScottPlot.CoordinateRect(-0.5, columns - 0.5, -0.5, rows - 0.5);
        var bar = plot.Add.ColorBar(heatmap);
        bar.Label = "attention mass";

        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, columns).Select(x => (double)x)], [.. entries.Select(e => Show(e.Text))]);
        plot.Axes.Left.SetTicks([.. Enumerable.Range(0, rows).Select(j => (double)j)], [.. taps.Select(t => $"layer {t}")]);
        plot.Axes.SetLimits(-0.5, columns - 0.5, -0.5, rows - 0.5);
        plot.XLabel("text (one column per character: the step that predicts what follows it)");
        plot.YLabel("tapped layer");
        plot.Title(title);
        int width = Math.Clamp(120 + CellWidth * columns, MinWidth, MaxWidth);
        return plot.GetImageBytes(width, Height, ScottPlot.ImageFormat.Png);
    }

    /// <summary>A character as a tick label: visible whitespace.</summary>
    private static string Show(string text) => text switch
    {
        " " => "␣",
        "\n" => "↵",
        "\t" => "→",
        "\r" => "␍",
        _ => text,
    };
}
