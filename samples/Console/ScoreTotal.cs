using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>One policy's <see cref="ScoreResult"/>s summed over the windows <c>eval</c> scored.</summary>
internal sealed class ScoreTotal(int histogramLength)
{
    private double _nllSum, _top1Sum, _seconds;
    private int _positions;

    /// <summary>Index e: positions that exited at depth e (0..L-1; 0..L for a plain GPT).</summary>
    public long[] Histogram { get; } = new long[histogramLength];

    public void Add(ScoreResult r)
    {
        _nllSum += r.Nll * r.Positions;
        _top1Sum += r.Top1 * r.Positions;
        _seconds += r.Seconds;
        _positions += r.Positions;
        for (int e = 0; e < Histogram.Length && e < r.ExitHistogram.Length; e++) Histogram[e] += r.ExitHistogram[e];
    }

    /// <summary>Mean NLL per position (nats).</summary>
    public double Nll => _positions == 0 ? 0 : _nllSum / _positions;

    public double Top1 => _positions == 0 ? 0 : _top1Sum / _positions;

    /// <summary>Positions per second of model time.</summary>
    public double TokensPerS => _seconds > 0 ? _positions / _seconds : 0;

    public double MeanExitDepth => _positions == 0 ? 0 : Histogram.Select((c, e) => (double)c * e).Sum() / _positions;
}
