namespace EdgeShortcut.Core.Onnx;

/// <summary>
/// Serializes an <see cref="OnnxModel"/> to the ONNX protobuf wire format. Field numbers are those of
/// onnx.proto (onnx 1.12). Repeated scalars are written unpacked except where onnx.proto declares
/// <c>packed = true</c>; tensor values always go to <c>raw_data</c>.
/// </summary>
internal static class OnnxWriter
{
    /// <summary>Writes the model file atomically (temp file, then rename: no partial file on error).</summary>
    public static void WriteFile(string path, OnnxModel model) => AtomicFile.Write(path, s => Write(s, model));

    /// <summary>Serializes to a byte array.</summary>
    public static byte[] ToBytes(OnnxModel model)
    {
        using var ms = new MemoryStream();
        Write(ms, model);
        return ms.ToArray();
    }

    /// <summary>Serializes <paramref name="model"/> onto <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, OnnxModel model)
    {
        var w = new ProtoWriter(stream);
        // ModelProto
        w.WriteInt64(1, model.IrVersion);
        if (model.ProducerName.Length > 0) w.WriteString(2, model.ProducerName);
        if (model.ProducerVersion.Length > 0) w.WriteString(3, model.ProducerVersion);
        w.WriteMessage(7, g => WriteGraph(g, model.Graph));
        foreach (var (domain, version) in model.OpsetImports)
            w.WriteMessage(8, o => { o.WriteString(1, domain); o.WriteInt64(2, version); });   // OperatorSetIdProto
        foreach (var (key, value) in model.MetadataProps)
            w.WriteMessage(14, e => { e.WriteString(1, key); e.WriteString(2, value); });     // StringStringEntryProto
    }

    private static void WriteGraph(ProtoWriter w, OnnxGraph graph)
    {
        foreach (var node in graph.Nodes) w.WriteMessage(1, n => WriteNode(n, node));
        w.WriteString(2, graph.Name);
        foreach (var t in graph.Initializers) w.WriteMessage(5, x => WriteTensor(x, t));
        foreach (var v in graph.Inputs) w.WriteMessage(11, x => WriteValueInfo(x, v));
        foreach (var v in graph.Outputs) w.WriteMessage(12, x => WriteValueInfo(x, v));
    }

    private static void WriteNode(ProtoWriter w, OnnxNode node)
    {
        foreach (string i in node.Inputs) w.WriteString(1, i);
        foreach (string o in node.Outputs) w.WriteString(2, o);
        if (node.Name.Length > 0) w.WriteString(3, node.Name);
        w.WriteString(4, node.OpType);
        foreach (var a in node.Attributes) w.WriteMessage(5, x => WriteAttribute(x, a));
        if (node.Domain.Length > 0) w.WriteString(7, node.Domain);
    }

    private static void WriteAttribute(ProtoWriter w, OnnxAttribute a)
    {
        w.WriteString(1, a.Name);
        switch (a.Type)
        {
            case OnnxAttributeType.Float: w.WriteFloat(2, a.F); break;
            case OnnxAttributeType.Int: w.WriteInt64(3, a.I); break;
            case OnnxAttributeType.String: w.WriteBytes(4, a.S); break;
            case OnnxAttributeType.Tensor:
                var t = a.T ?? throw new ArgumentException($"Attribute '{a.Name}' has type TENSOR but no tensor.");
                w.WriteMessage(5, x => WriteTensor(x, t));
                break;
            case OnnxAttributeType.Floats: foreach (float f in a.Floats) w.WriteFloat(7, f); break;
            case OnnxAttributeType.Ints: foreach (long i in a.Ints) w.WriteInt64(8, i); break;
            default: throw new ArgumentException($"Attribute '{a.Name}' has unsupported type {a.Type}.");
        }
        w.WriteInt64(20, (long)a.Type);
    }

    private static void WriteTensor(ProtoWriter w, OnnxTensor t)
    {
        foreach (long d in t.Dims) w.WriteInt64(1, d);
        w.WriteInt64(2, (long)t.DataType);
        if (t.Name.Length > 0) w.WriteString(8, t.Name);
        w.WriteBytes(9, t.RawData.Span);
    }

    private static void WriteValueInfo(ProtoWriter w, OnnxValueInfo v)
    {
        w.WriteString(1, v.Name);
        w.WriteMessage(2, type => type.WriteMessage(1, tensor =>              // TypeProto.tensor_type
        {
            tensor.WriteInt64(1, (long)v.ElemType);                           // elem_type
            if (v.Shape is { } shape)
                tensor.WriteMessage(2, s =>                                   // TensorShapeProto
                {
                    foreach (var dim in shape)
                        s.WriteMessage(1, d =>                                // Dimension
                        {
                            if (dim.Param is { } p) d.WriteString(2, p);
                            else d.WriteInt64(1, dim.Value);
                        });
                });
        }));
    }
}
