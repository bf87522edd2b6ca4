using System.Buffers.Binary;
using System.Text;

namespace EdgeShortcut.Core.Onnx;

/// <summary>
/// Protocol-buffer wire-format reader over one message's bytes. Hostile-input safe: every length is
/// checked against the bytes that remain, varints longer than 10 bytes are refused, group wire types
/// (3, 4) are refused, and every read advances, so a corrupt file ends in a
/// <see cref="CheckpointFormatException"/> naming <see cref="Source"/>, never a hang or an overrun.
/// </summary>
internal struct ProtoReader
{
    private readonly ReadOnlyMemory<byte> _data;
    private int _pos;

    /// <summary>A reader over <paramref name="data"/>; <paramref name="source"/> names the file in errors.</summary>
    public ProtoReader(ReadOnlyMemory<byte> data, string source)
    {
        _data = data;
        Source = source;
    }

    /// <summary>The file name used in error messages.</summary>
    public string Source { get; }

    /// <summary>True when the whole message has been read.</summary>
    public readonly bool AtEnd => _pos >= _data.Length;

    /// <summary>Throws a format error naming the file, the message being read and the byte offset.</summary>
    public readonly CheckpointFormatException Error(string what) =>
        new(Source, $"corrupt ONNX protobuf: {what} (at byte {_pos} of a {_data.Length}-byte message)");

    /// <summary>Reads the next field key; false at the end of the message.</summary>
    public bool TryReadTag(out int field, out int wireType)
    {
        field = wireType = 0;
        if (AtEnd) return false;
        ulong key = ReadVarint();
        wireType = (int)(key & 7);
        ulong f = key >> 3;
        if (f == 0 || f > int.MaxValue) throw Error($"invalid field number {f}");
        field = (int)f;
        return true;
    }

    /// <summary>Reads a base-128 varint (at most 10 bytes).</summary>
    public ulong ReadVarint()
    {
        var span = _data.Span;
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_pos >= span.Length) throw Error("truncated varint");
            byte b = span[_pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
        throw Error("varint longer than 10 bytes");
    }

    /// <summary>Reads a varint field as int64 (two's complement).</summary>
    public long ReadInt64(int wireType)
    {
        Expect(wireType, ProtoWriter.Varint, "integer");
        return (long)ReadVarint();
    }

    /// <summary>Reads a fixed32 field as float.</summary>
    public float ReadFloat(int wireType)
    {
        Expect(wireType, ProtoWriter.Fixed32, "float");
        return BinaryPrimitives.ReadSingleLittleEndian(Take(4).Span);
    }

    /// <summary>Reads a length-delimited field's payload (a slice, not a copy).</summary>
    public ReadOnlyMemory<byte> ReadBytes(int wireType)
    {
        Expect(wireType, ProtoWriter.LengthDelimited, "length-delimited");
        ulong len = ReadVarint();
        if (len > (ulong)(_data.Length - _pos)) throw Error($"length {len} exceeds the {_data.Length - _pos} bytes that remain (truncated file?)");
        return Take((int)len);
    }

    /// <summary>Reads a UTF-8 string field.</summary>
    public string ReadString(int wireType)
    {
        var bytes = ReadBytes(wireType).Span;
        try { return new UTF8Encoding(false, true).GetString(bytes); }
        catch (DecoderFallbackException) { throw Error("string is not valid UTF-8"); }
    }

    /// <summary>Reads a nested message's bytes as a new reader.</summary>
    public ProtoReader ReadMessage(int wireType) => new(ReadBytes(wireType), Source);

    /// <summary>Skips a field of an unknown number.</summary>
    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case ProtoWriter.Varint: ReadVarint(); break;
            case ProtoWriter.Fixed64: Take(8); break;
            case ProtoWriter.LengthDelimited: ReadBytes(wireType); break;
            case ProtoWriter.Fixed32: Take(4); break;
            default: throw Error($"unsupported wire type {wireType}");
        }
    }

    /// <summary>Reads a repeated int64 field, packed (one length-delimited run) or not (one varint).</summary>
    public void ReadRepeatedInt64(int wireType, List<long> into)
    {
        if (wireType != ProtoWriter.LengthDelimited) { into.Add(ReadInt64(wireType)); return; }
        var packed = ReadMessage(wireType);
        while (!packed.AtEnd) into.Add((long)packed.ReadVarint());
    }

    /// <summary>Reads a repeated float field, packed or not.</summary>
    public void ReadRepeatedFloat(int wireType, List<float> into)
    {
        if (wireType != ProtoWriter.LengthDelimited) { into.Add(ReadFloat(wireType)); return; }
        var bytes = ReadBytes(wireType).Span;
        if (bytes.Length % 4 != 0) throw Error($"packed float field of {bytes.Length} bytes is not a multiple of 4");
        for (int i = 0; i < bytes.Length; i += 4) into.Add(BinaryPrimitives.ReadSingleLittleEndian(bytes[i..]));
    }

    private ReadOnlyMemory<byte> Take(int n)
    {
        if (n > _data.Length - _pos) throw Error($"{n}-byte field runs past the end (truncated file?)");
        var slice = _data.Slice(_pos, n);
        _pos += n;
        return slice;
    }

    private readonly void Expect(int wireType, int expected, string what)
    {
        if (wireType != expected) throw Error($"{what} field has wire type {wireType}, expected {expected}");
    }
}
