using System.Text;

namespace EdgeShortcut;

/// <summary>Turns a stream of byte tokens into text pieces that never split a UTF-8 character:
/// bytes of an incomplete character are held until it completes (or until <see cref="Flush"/>).</summary>
public sealed class Utf8StreamDecoder
{
    private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    private readonly char[] _chars = new char[8];
    private readonly byte[] _one = new byte[1];

    /// <summary>Feeds one byte; returns the text completed by it (often empty while a character is pending).</summary>
    public string Push(int token)
    {
        if ((uint)token > 255) throw new ArgumentOutOfRangeException(nameof(token), $"Token id {token} is not a byte (0..255).");
        _one[0] = (byte)token;
        int n = _decoder.GetChars(_one, 0, 1, _chars, 0, flush: false);
        return n == 0 ? string.Empty : new string(_chars, 0, n);
    }

    /// <summary>Ends the stream: an incomplete trailing character becomes U+FFFD.</summary>
    public string Flush()
    {
        int n = _decoder.GetChars([], 0, 0, _chars, 0, flush: true);
        return n == 0 ? string.Empty : new string(_chars, 0, n);
    }

    /// <summary>Forgets any pending bytes.</summary>
    public void Reset() => _decoder.Reset();
}
