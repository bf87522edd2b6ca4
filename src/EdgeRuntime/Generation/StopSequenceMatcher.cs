using System.Text;

namespace EdgeShortcut.Runtime;

/// <summary>
/// Streams generated text while watching for stop sequences: text that could still be the start of
/// a stop sequence is held back until the next pieces decide it, so a stop sequence is never half
/// emitted and never emitted at all.
/// </summary>
internal sealed class StopSequenceMatcher(IReadOnlyList<string> stopSequences)
{
    private readonly StringBuilder _held = new();

    /// <summary>True once a stop sequence was seen; later input is ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds a decoded piece; returns the text that is now safe to emit (maybe empty).</summary>
    public string Push(string piece)
    {
        if (Stopped) return string.Empty;
        if (stopSequences.Count == 0) return piece;
        _held.Append(piece);
        string text = _held.ToString();

        int cut = -1;
        foreach (var stop in stopSequences)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0)
        {
            Stopped = true;
            _held.Clear();
            return text[..cut];
        }

        // Hold the longest suffix that is a proper prefix of some stop sequence. Any later match must
        // start inside it, because everything before it has been checked against every stop sequence.
        int hold = 0;
        foreach (var stop in stopSequences)
            for (int k = Math.Min(stop.Length - 1, text.Length); k > hold; k--)
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k))) { hold = k; break; }
        _held.Clear().Append(text, text.Length - hold, hold);
        return text[..^hold];
    }

    /// <summary>End of stream: returns the held text (it did not become a stop sequence).</summary>
    public string Flush()
    {
        if (Stopped) return string.Empty;
        string rest = _held.ToString();
        _held.Clear();
        return rest;
    }

    /// <summary>Starts a new stream: forgets held text and the stop state.</summary>
    public void Reset()
    {
        _held.Clear();
        Stopped = false;
    }
}
