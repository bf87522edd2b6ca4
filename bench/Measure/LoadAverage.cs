namespace EdgeShortcut.Measure;

/// <summary>
/// The machine's load average (<c>/proc/loadavg</c>), printed and recorded next to every measurement:
/// this VM is shared, and a number taken at load 6 on 2 cores is not the number of an idle machine.
/// </summary>
public static class LoadAverage
{
    /// <summary>The 1, 5 and 15 minute load averages as the kernel prints them (e.g. <c>"0.52 0.61 0.70"</c>),
    /// or <c>"n/a"</c> where <c>/proc/loadavg</c> does not exist.</summary>
    public static string Read()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(3)); }
        catch (IOException) { return "n/a"; }
        catch (UnauthorizedAccessException) { return "n/a"; }
    }

    /// <summary>The 1-minute load average, or NaN where it cannot be read.</summary>
    public static double OneMinute() =>
        double.TryParse(Read().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out double v) ? v : double.NaN;
}
