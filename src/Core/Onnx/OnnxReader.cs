using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace EdgeShortcut.Core.Onnx;

/// <summary>
/// Parses an ONNX file into an <see cref="OnnxModel"/> (the subset of <see cref="OnnxWriter"/>;
/// unknown fields are skipped). Tensor values stay slices of the file's bytes. Any malformed,
/// truncated or inconsistent input raises <see cref="CheckpointFormatException"/> naming the file
/// and the field; the parse is linear in the file size (every step consumes bytes, nesting is bounded).
/// </summary>
internal static class OnnxReader
{
    /// <summary>Reads and parses an ONNX file.</summary>
    public static OnnxModel ReadFile(string path)
    {
        if (!File.Exists(path)) throw new CheckpointFormatException(path, "file not found");
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses ONNX bytes; <paramref name="source"/> names them in errors.</summary>
    public static OnnxModel Read(ReadOnlyMemory<byte> bytes, string source)
    {
        if (bytes.IsEmpty) throw new CheckpointFormatException(source, "empty file: not an ONNX model");
        var r = new ProtoReader(bytes, source);
        var model = new OnnxModel();
        bool hasGraph = false;
        while (r.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case 1: model.IrVersion = r.ReadInt64(wire); break;
                case 2: model.ProducerName = r.ReadString(wire); break;
                case 3: model.ProducerVersion = r.ReadString(wire); break;
                case 7: model.Graph = ReadGraph(r.ReadMessage(wire)); hasGraph = true; break;
                case 8: model.OpsetImports.Add(ReadOpset(r.ReadMessage(wire))); break;
                case 14: model.MetadataProps.Add(ReadEntry(r.ReadMessage(wire))); break;
                default: r.Skip(wire); break;
            }
        }
        if (!hasGraph) throw r.Error("ModelProto has no graph (field 7): not an ONNX model");
        return model;
    }

    private static (string, long) ReadOpset(ProtoReader r)
    {
        string domain = ""; long version = 0;
        while (r.TryReadTag(out int field, out int wire))
        {
            if (field == 1) domain = r.ReadString(wire);
            else if (field == 2) version = r.ReadInt64(wire);
            else r.Skip(wire);
        }
        return (domain, version);
    }

    private static KeyValuePair<string, string> ReadEntry(ProtoReader r)
    {
        string key = "", value = "";
        while (r.TryReadTag(out int field, out int wire))
        {
            if (field == 1) key = r.ReadString(wire);
            else if (field == 2) value = r.ReadString(wire);
            else r.Skip(wire);
        }
        return new(key, value);
    }

    private static OnnxGraph ReadGraph(ProtoReader r)
    {
        var g = new OnnxGraph();
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (r.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case 1: g.Nodes.Add(ReadNode(r.ReadMessage(wire))); break;
                case 2: g.Name = r.ReadString(wire); break;
                case 5:
                    var t = ReadTensor(r.ReadMessage(wire));
                    if (!names.Add(t.Name)) throw r.Error($"duplicate initializer '{t.Name}'");
                    g.Initializers.Add(t);
                    break;
                case 11: g.Inputs.Add(ReadValueInfo(r.ReadMessage(wire))); break;
                case 12: g.Outputs.Add(ReadValueInfo(r.ReadMessage(wire))); break;
                default: r.Skip(wire); break;
            }
        }
        return g;
    }

    private static OnnxNode ReadNode(ProtoReader r)
    {
        var n = new OnnxNode();
        while (r.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case 1: n.Inputs.Add(r.ReadString(wire)); break;
                case 2: n.Outputs.Add(r.ReadString(wire)); break;
                case 3: n.Name = r.ReadString(wire); break;
                case 4: n.OpType = r.ReadString(wire); break;
                case 5: n.Attributes.Add(ReadAttribute(r.ReadMessage(wire))); break;
                case 7: n.Domain = r.ReadString(wire); break;
                default: r.Skip(wire); break;
            }
        }
        return n;
    }

    private static OnnxAttribute ReadAttribute(ProtoReader r)
    {
        var a = new OnnxAttribute();
        while (r.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case 1: a.Name = r.ReadString(wire); break;
                case 2: a.F = r.ReadFloat(wire); break;
                case 3: a.I = r.ReadInt64(wire); break;
                case 4: a.S = r.ReadBytes(wire).ToArray(); break;
                case 5: a.T = ReadTensor(r.ReadMessage(wire)); break;
                case 7: r.ReadRepeatedFloat(wire, a.Floats); break;
                case 8: r.ReadRepeatedInt64(wire, a.Ints); break;
                case 20: a.Type = (OnnxAttributeType)r.ReadInt64(wire); break;
                default: r.Skip(wire); break;   // graphs, strings lists, sparse tensors: outside the subset
            }
        }
        return a;
    }

    private static OnnxTensor ReadTensor(ProtoReader r)
    {
        var dims = new List<long>();
        var floats = new List<float>();
        var ints = new List<long>();     // int32_data (field 5) or int64_data (field 7), widened
        int typedField = 0;
        long dataType = 0;
        string name = "";
        ReadOnlyMemory<byte>? raw = null;
        while (r.TryReadTag(out int field, out int wire))
        {
            switch (field)
            {
                case 1: r.ReadRepeatedInt64(wire, dims); break;
                case 2: dataType = r.ReadInt64(wire); break;
                case 4: r.ReadRepeatedFloat(wire, floats); typedField = 4; break;
                case 5 or 7:
                    if (typedField != 0 && typedField != field) throw r.Error("tensor mixes int32_data and int64_data");
                    r.ReadRepeatedInt64(wire, ints); typedField = field; break;
                case 8: name = r.ReadString(wire); break;
                case 9: raw = r.ReadBytes(wire); break;
                case 14:
                    if (r.ReadInt64(wire) != 0) throw r.Error($"tensor '{name}' uses external data, which is not supported");
                    break;
                default: r.Skip(wire); break;
            }
        }
        var type = (OnnxDataType)dataType;
        try
        {
            long[] shape = [.. dims];
            if (raw is { } bytes) return new OnnxTensor(name, type, shape, bytes);
            return new OnnxTensor(name, type, shape, TypedToRaw(name, type, typedField, floats, ints));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or OverflowException)
        {
            throw r.Error($"tensor '{name}': {e.Message}");
        }
    }

    /// <summary>Converts the typed value fields to little-endian raw bytes of the element type.</summary>
    private static byte[] TypedToRaw(string name, OnnxDataType type, int typedField, List<float> floats, List<long> ints)
    {
        switch (type)
        {
            case OnnxDataType.Float when typedField is 0 or 4:
                return MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(floats)).ToArray();
            case OnnxDataType.Int64 when typedField is 0 or 7:
                return MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(ints)).ToArray();
            case OnnxDataType.Int32 when typedField is 0 or 5:
                var i32 = new byte[4 * ints.Count];
                for (int i = 0; i < ints.Count; i++) BinaryPrimitives.WriteInt32LittleEndian(i32.AsSpan(4 * i), checked((int)ints[i]));
                return i32;
            case OnnxDataType.Int8 when typedField is 0 or 5:
                return ints.Select(v => (byte)checked((sbyte)v)).ToArray();
            case OnnxDataType.UInt8 or OnnxDataType.Bool when typedField is 0 or 5:
                return ints.Select(v => checked((byte)v)).ToArray();
            default:
                throw new NotSupportedException($"data type {(int)type} stored in field {typedField} is not supported");
        }
    }

    private static OnnxValueInfo ReadValueInfo(ProtoReader r)
    {
        var v = new OnnxValueInfo();
        while (r.TryReadTag(out int field, out int wire))
        {
            if (field == 1) v.Name = r.ReadString(wire);
            else if (field == 2)
            {
                var type = r.ReadMessage(wire);
                while (type.TryReadTag(out int tf, out int tw))
                {
                    if (tf != 1) { type.Skip(tw); continue; }      // only TypeProto.tensor_type
                    var tensor = type.ReadMessage(tw);
                    while (tensor.TryReadTag(out int f, out int w))
                    {
                        if (f == 1) v.ElemType = (OnnxDataType)tensor.ReadInt64(w);
                        else if (f == 2) v.Shape = ReadShape(tensor.ReadMessage(w));
                        else tensor.Skip(w);
                    }
                }
            }
            else r.Skip(wire);
        }
        return v;
    }

    private static List<OnnxDim> ReadShape(ProtoReader r)
    {
        var dims = new List<OnnxDim>();
        while (r.TryReadTag(out int field, out int wire))
        {
            if (field != 1) { r.Skip(wire); continue; }
            var d = r.ReadMessage(wire);
            OnnxDim dim = 0L;
            while (d.TryReadTag(out int f, out int w))
            {
                if (f == 1) dim = d.ReadInt64(w);
                else if (f == 2) dim = d.ReadString(w);
                else d.Skip(w);
            }
            dims.Add(dim);
        }
        return dims;
    }
}
