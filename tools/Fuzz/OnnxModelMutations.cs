using System.Text;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.Fuzz;

/// <summary>Semantic mutations of an EdgeShortcut ONNX file through its object model: the metadata's
/// config and tokenizer JSON, an initializer's dims or values, a node removed, rewired or given
/// another operator or attribute, a graph input's dims. The file stays well-formed protobuf; what it
/// says is wrong.</summary>
public static class OnnxModelMutations
{
    /// <summary>One mutation of <paramref name="onnx"/>, or null when it does not parse.</summary>
    public static byte[]? Mutate(byte[] onnx, Random r)
    {
        OnnxModel model;
        try { model = OnnxReader.Read(onnx, "seed"); }
        catch (CheckpointFormatException) { return null; }
        var g = model.Graph;
        switch (r.Next(9))
        {
            case 0 or 1:   // the metadata: config, tokenizer, precision, version
                {
                    int i = r.Next(model.MetadataProps.Count);
                    var (key, value) = model.MetadataProps[i];
                    string mutated = value.StartsWith('{') ? Encoding.UTF8.GetString(JsonMutations.Mutate(Encoding.UTF8.GetBytes(value), r))
                        : r.Next(2) == 0 ? "" : value + "x";
                    model.MetadataProps[i] = new(key, mutated);
                    break;
                }
            case 2 when g.Initializers.Count > 0:   // an initializer's dims
                {
                    int i = r.Next(g.Initializers.Count);
                    var t = g.Initializers[i];
                    long[] dims = [.. t.Dims];
                    if (dims.Length == 0 || r.Next(4) == 0) dims = [.. dims, 1];
                    else dims[r.Next(dims.Length)] = r.Next(3) switch { 0 => dims[0] + 1, 1 => 0, _ => ByteMutations.InterestingIntegers[r.Next(ByteMutations.InterestingIntegers.Length)] };
                    long bytes = OnnxTensor.CountOf(dims) * OnnxTensor.ElementSize(t.DataType);
                    if (bytes is < 0 or > 1 << 20) return null;   // the raw bytes are resized to match: valid lengths, wrong shape
                    var raw = new byte[bytes];
                    t.RawData.Span[..(int)Math.Min(bytes, t.RawData.Length)].CopyTo(raw);
                    g.Initializers[i] = new OnnxTensor(t.Name, t.DataType, dims, raw);
                    break;
                }
            case 3 when g.Initializers.Count > 0:   // an initializer's values
                {
                    int i = r.Next(g.Initializers.Count);
                    var t = g.Initializers[i];
                    byte[] raw = t.RawData.ToArray(), mutated = ByteMutations.Mutate(raw, r);
                    if (mutated.Length != raw.Length) { mutated = raw; if (raw.Length > 0) raw[r.Next(raw.Length)] ^= (byte)(1 << r.Next(8)); }
                    g.Initializers[i] = new OnnxTensor(t.Name, t.DataType, t.Dims, mutated);
                    break;
                }
            case 4 when g.Nodes.Count > 0: g.Nodes.RemoveAt(r.Next(g.Nodes.Count)); break;
            case 5 when g.Nodes.Count > 1:   // rewire an input to another existing value
                {
                    var node = g.Nodes[r.Next(g.Nodes.Count)];
                    var other = g.Nodes[r.Next(g.Nodes.Count)];
                    if (node.Inputs.Count > 0 && other.Outputs.Count > 0) node.Inputs[r.Next(node.Inputs.Count)] = other.Outputs[0];
                    break;
                }
            case 6 when g.Nodes.Count > 0:   // an attribute's value, or another operator
                {
                    var node = g.Nodes[r.Next(g.Nodes.Count)];
                    if (node.Attributes.Count > 0 && r.Next(3) > 0)
                    {
                        var a = node.Attributes[r.Next(node.Attributes.Count)];
                        a.I = ByteMutations.InterestingIntegers[r.Next(ByteMutations.InterestingIntegers.Length)];
                        a.F = new[] { 0f, -1f, 1e-3f, float.NaN, 1e30f }[r.Next(5)];
                        if (a.Ints.Count > 0) a.Ints[r.Next(a.Ints.Count)] = r.Next(-3, 5);
                    }
                    else node.OpType = new[] { "Add", "Mul", "Softmax", "Identity", "Gelu", "Attention", "Relu" }[r.Next(7)];
                    break;
                }
            case 7 when g.Inputs.Count > 0:   // a graph input's dims
                {
                    var v = g.Inputs[r.Next(g.Inputs.Count)];
                    if (v.Shape is { Count: > 0 } shape) shape[r.Next(shape.Count)] = r.Next(2) == 0 ? new OnnxDim(r.Next(0, 9), null) : new OnnxDim(0, "x");
                    break;
                }
            default:   // duplicate or drop an initializer
                if (g.Initializers.Count == 0) break;
                if (r.Next(2) == 0) g.Initializers.Add(g.Initializers[r.Next(g.Initializers.Count)]);
                else g.Initializers.RemoveAt(r.Next(g.Initializers.Count));
                break;
        }
        return OnnxWriter.ToBytes(model);
    }
}
