using System.Runtime.InteropServices;

namespace EdgeShortcut.Core.Onnx;

/// <summary>
/// An ONNX <c>TensorProto</c> held as little-endian raw bytes (<c>raw_data</c>), whatever field the
/// file used: the reader converts <c>float_data</c>/<c>int32_data</c>/<c>int64_data</c> to raw bytes,
/// and otherwise slices the file without copying. <see cref="RawData"/> length always equals
/// <see cref="ElementCount"/> times the element size (checked on read).
/// </summary>
public sealed class OnnxTensor
{
    /// <summary>Creates a tensor; checks that <paramref name="raw"/> has exactly the size the dims imply.</summary>
    public OnnxTensor(string name, OnnxDataType dataType, long[] dims, ReadOnlyMemory<byte> raw)
    {
        Name = name;
        DataType = dataType;
        Dims = dims;
        RawData = raw;
        long expected = checked(ElementCount * ElementSize(dataType));
        if (raw.Length != expected)
            throw new ArgumentException($"Tensor '{name}' has {raw.Length} data bytes, its dims [{string.Join(",", dims)}] of {dataType} need {expected}.");
    }

    /// <summary><c>name</c> (field 8).</summary>
    public string Name { get; }
    /// <summary><c>data_type</c> (field 2).</summary>
    public OnnxDataType DataType { get; }
    /// <summary><c>dims</c> (field 1); empty for a scalar.</summary>
    public long[] Dims { get; }
    /// <summary>The values, little-endian, row-major.</summary>
    public ReadOnlyMemory<byte> RawData { get; }

    /// <summary>Product of the dims (1 for a scalar).</summary>
    public long ElementCount => CountOf(Dims);

    /// <summary>The values as float32 (a view of <see cref="RawData"/>; little-endian hosts only).</summary>
    public ReadOnlySpan<float> AsFloats() => View<float>(OnnxDataType.Float);
    /// <summary>The values as int8 (a view of <see cref="RawData"/>).</summary>
    public ReadOnlySpan<sbyte> AsInt8() => View<sbyte>(OnnxDataType.Int8);
    /// <summary>The values as int64 (a view of <see cref="RawData"/>).</summary>
    public ReadOnlySpan<long> AsInt64() => View<long>(OnnxDataType.Int64);

    private ReadOnlySpan<T> View<T>(OnnxDataType expected) where T : struct
    {
        if (DataType != expected) throw new InvalidOperationException($"Tensor '{Name}' is {DataType}, not {expected}.");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw data views need a little-endian host.");
        return MemoryMarshal.Cast<byte, T>(RawData.Span);
    }

    /// <summary>A float32 tensor (copies the values).</summary>
    public static OnnxTensor FromFloats(string name, long[] dims, ReadOnlySpan<float> values) =>
        new(name, OnnxDataType.Float, dims, MemoryMarshal.AsBytes(values).ToArray());
    /// <summary>An int8 tensor (copies the values).</summary>
    public static OnnxTensor FromInt8(string name, long[] dims, ReadOnlySpan<sbyte> values) =>
        new(name, OnnxDataType.Int8, dims, MemoryMarshal.AsBytes(values).ToArray());
    /// <summary>An int64 tensor (copies the values).</summary>
    public static OnnxTensor FromInt64(string name, long[] dims, ReadOnlySpan<long> values) =>
        new(name, OnnxDataType.Int64, dims, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>Bytes per element of <paramref name="type"/>; throws for types this project does not handle.</summary>
    public static int ElementSize(OnnxDataType type) => type switch
    {
        OnnxDataType.Float or OnnxDataType.Int32 => 4,
        OnnxDataType.UInt8 or OnnxDataType.Int8 or OnnxDataType.Bool => 1,
        OnnxDataType.Int64 or OnnxDataType.Double => 8,
        OnnxDataType.Float16 => 2,
        _ => throw new NotSupportedException($"ONNX data type {(int)type} is not supported."),
    };

    /// <summary>Product of <paramref name="dims"/>; throws on a negative dim or overflow.</summary>
    public static long CountOf(ReadOnlySpan<long> dims)
    {
        long n = 1;
        foreach (long d in dims)
        {
            if (d < 0) throw new ArgumentException($"Negative tensor dimension {d}.");
            n = checked(n * d);
        }
        return n;
    }
}
