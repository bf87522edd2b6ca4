namespace EdgeShortcut.Measure;

/// <summary>Summary statistics of repeated measurements, one definition for every benchmark in the repo.</summary>
public static class Stats
{
    /// <summary>The median: the middle value, or the mean of the two middle values for an even count.
    /// Does not reorder <paramref name="values"/>.</summary>
    public static double Median(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("The median of no values is undefined.", nameof(values));
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
