using System.Text;

namespace EdgeShortcut.Core;

/// <summary>Byte-level tokenizer: a token id is one UTF-8 byte (0..255). Encoding never fails and
/// decoding a whole sequence is exact. For streaming, <see cref="Utf8StreamDecoder"/> holds back
/// incomplete multi-byte characters.</summary>
internal static class ByteTokenizer
{
    /// <summary>UTF-8 bytes of <paramref name="text"/> as token ids.</summary>
    public static int[] Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
        return ids;
    }

    /// <summary>Decodes ids (each must be 0..255) as UTF-8; invalid sequences become U+FFFD.</summary>
    public static string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new byte[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] > 255) throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {ids[i]} at index {i} is not a byte (0..255).");
            bytes[i] = (byte)ids[i];
        }
        return Encoding.UTF8.GetString(bytes);
    }
}
