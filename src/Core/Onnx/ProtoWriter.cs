using System.Buffers.Binary;
using System.Text;

namespace EdgeShortcut.Core.Onnx;

/// <summary>
/// Protocol-buffer wire-format writer for the subset ONNX needs: varints (wire type 0), fixed32
/// (wire type 5) and length-delimited fields (wire type 2). A nested message is written by a
/// callback that runs twice: once on a counting writer (to learn the length prefix) and once for
/// real. Counting a large <c>raw_data</c> costs O(1), so multi-megabyte initializers are copied once.
/// </summary>
internal sealed class ProtoWriter
{
    private readonly Stream? _stream;   // null: counting mode, only Length advances
    private readonly byte[] _scratch = new byte[16];

    /// <summary>A writer onto <paramref name="stream"/>, or a counting writer when it is null.</summary>
    public ProtoWriter(Stream? stream) => _stream = stream;

    /// <summary>Bytes written (or counted) so far.</summary>
    public long Length { get; private set; }

    /// <summary>Wire type of varint-encoded scalars (int32, int64, enums, bool).</summary>
    public const int Varint = 0;
    /// <summary>Wire type of 8-byte little-endian scalars.</summary>
    public const int Fixed64 = 1;
    /// <summary>Wire type of strings, bytes, nested messages and packed repeated fields.</summary>
    public const int LengthDelimited = 2;
    /// <summary>Wire type of 4-byte little-endian scalars (float).</summary>
    public const int Fixed32 = 5;

    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        _stream?.Write(bytes);
        Length += bytes.Length;
    }

    /// <summary>Writes an unsigned base-128 varint (negative int64 values take 10 bytes, as protobuf requires).</summary>
    public void WriteVarint(ulong value)
    {
        int n = 0;
        while (value >= 0x80)
        {
            _scratch[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _scratch[n++] = (byte)value;
        WriteRaw(_scratch.AsSpan(0, n));
    }

    /// <summary>Writes a field key: (field number &lt;&lt; 3) | wire type.</summary>
    public void WriteTag(int field, int wireType) => WriteVarint((ulong)(((uint)field << 3) | (uint)wireType));

    /// <summary>Writes an int64/int32/enum field (two's complement for negatives).</summary>
    public void WriteInt64(int field, long value)
    {
        WriteTag(field, Varint);
        WriteVarint((ulong)value);
    }

    /// <summary>Writes a float field.</summary>
    public void WriteFloat(int field, float value)
    {
        WriteTag(field, Fixed32);
        BinaryPrimitives.WriteSingleLittleEndian(_scratch, value);
        WriteRaw(_scratch.AsSpan(0, 4));
    }

    /// <summary>Writes a bytes field.</summary>
    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, LengthDelimited);
        WriteVarint((ulong)value.Length);
        WriteRaw(value);
    }

    /// <summary>Writes a UTF-8 string field.</summary>
    public void WriteString(int field, string value) => WriteBytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>Writes an embedded message whose body is produced by <paramref name="body"/>.</summary>
    public void WriteMessage(int field, Action<ProtoWriter> body)
    {
        var counter = new ProtoWriter(null);
        body(counter);
        WriteTag(field, LengthDelimited);
        WriteVarint((ulong)counter.Length);
        if (_stream is null) { Length += counter.Length; return; }
        long before = Length;
        body(this);
        if (Length - before != counter.Length)
            throw new InvalidOperationException($"Protobuf message body wrote {Length - before} bytes, {counter.Length} were counted.");
    }
}
