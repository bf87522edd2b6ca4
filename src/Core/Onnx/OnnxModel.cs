namespace EdgeShortcut.Core.Onnx;

/// <summary>ONNX <c>TensorProto.DataType</c> values used here (numbers from onnx.proto).</summary>
public enum OnnxDataType
{
    /// <summary>Not set.</summary>
    Undefined = 0,
    /// <summary>float32.</summary>
    Float = 1,
    /// <summary>uint8.</summary>
    UInt8 = 2,
    /// <summary>int8.</summary>
    Int8 = 3,
    /// <summary>int32.</summary>
    Int32 = 6,
    /// <summary>int64.</summary>
    Int64 = 7,
    /// <summary>bool (one byte).</summary>
    Bool = 9,
    /// <summary>float16.</summary>
    Float16 = 10,
    /// <summary>float64.</summary>
    Double = 11,
}

/// <summary>
/// The subset of an ONNX <c>ModelProto</c> this project writes and reads: IR version, opset imports,
/// producer, the main graph and <c>metadata_props</c>. Fields outside the subset are skipped on read.
/// </summary>
public sealed class OnnxModel
{
    /// <summary><c>ir_version</c> (field 1).</summary>
    public long IrVersion { get; set; }
    /// <summary><c>opset_import</c> (field 8): domain ("" = default ONNX domain) and version.</summary>
    public List<(string Domain, long Version)> OpsetImports { get; } = [];
    /// <summary><c>producer_name</c> (field 2).</summary>
    public string ProducerName { get; set; } = "";
    /// <summary><c>producer_version</c> (field 3).</summary>
    public string ProducerVersion { get; set; } = "";
    /// <summary><c>graph</c> (field 7).</summary>
    public OnnxGraph Graph { get; set; } = new();
    /// <summary><c>metadata_props</c> (field 14), in file order.</summary>
    public List<KeyValuePair<string, string>> MetadataProps { get; } = [];

    /// <summary>The metadata as a map (a later duplicate key wins, as in ONNX Runtime).</summary>
    public Dictionary<string, string> Metadata()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in MetadataProps) map[k] = v;
        return map;
    }
}

/// <summary>An ONNX <c>GraphProto</c>: nodes in topological order, initializers, inputs and outputs.</summary>
public sealed class OnnxGraph
{
    /// <summary><c>name</c> (field 2).</summary>
    public string Name { get; set; } = "";
    /// <summary><c>node</c> (field 1).</summary>
    public List<OnnxNode> Nodes { get; } = [];
    /// <summary><c>initializer</c> (field 5).</summary>
    public List<OnnxTensor> Initializers { get; } = [];
    /// <summary><c>input</c> (field 11).</summary>
    public List<OnnxValueInfo> Inputs { get; } = [];
    /// <summary><c>output</c> (field 12).</summary>
    public List<OnnxValueInfo> Outputs { get; } = [];

    /// <summary>Initializers keyed by name (the reader refuses duplicate names).</summary>
    public Dictionary<string, OnnxTensor> InitializersByName() => Initializers.ToDictionary(t => t.Name, StringComparer.Ordinal);
}

/// <summary>An ONNX <c>NodeProto</c>: one operator application. An empty input name means "omitted".</summary>
public sealed class OnnxNode
{
    /// <summary><c>input</c> (field 1).</summary>
    public List<string> Inputs { get; } = [];
    /// <summary><c>output</c> (field 2).</summary>
    public List<string> Outputs { get; } = [];
    /// <summary><c>name</c> (field 3).</summary>
    public string Name { get; set; } = "";
    /// <summary><c>op_type</c> (field 4).</summary>
    public string OpType { get; set; } = "";
    /// <summary><c>domain</c> (field 7); "" is the default ONNX domain.</summary>
    public string Domain { get; set; } = "";
    /// <summary><c>attribute</c> (field 5).</summary>
    public List<OnnxAttribute> Attributes { get; } = [];
}

/// <summary>ONNX <c>AttributeProto.AttributeType</c> values used here.</summary>
public enum OnnxAttributeType
{
    /// <summary>Not set.</summary>
    Undefined = 0,
    /// <summary>Field <c>f</c>.</summary>
    Float = 1,
    /// <summary>Field <c>i</c>.</summary>
    Int = 2,
    /// <summary>Field <c>s</c>.</summary>
    String = 3,
    /// <summary>Field <c>t</c>.</summary>
    Tensor = 4,
    /// <summary>Field <c>floats</c>.</summary>
    Floats = 6,
    /// <summary>Field <c>ints</c>.</summary>
    Ints = 7,
}

/// <summary>An ONNX <c>AttributeProto</c> (subset: f, i, s, t, floats, ints).</summary>
public sealed class OnnxAttribute
{
    /// <summary><c>name</c> (field 1).</summary>
    public string Name { get; set; } = "";
    /// <summary><c>type</c> (field 20).</summary>
    public OnnxAttributeType Type { get; set; }
    /// <summary><c>f</c> (field 2).</summary>
    public float F { get; set; }
    /// <summary><c>i</c> (field 3).</summary>
    public long I { get; set; }
    /// <summary><c>s</c> (field 4), raw bytes (UTF-8 for strings).</summary>
    public byte[] S { get; set; } = [];
    /// <summary><c>t</c> (field 5).</summary>
    public OnnxTensor? T { get; set; }
    /// <summary><c>floats</c> (field 7).</summary>
    public List<float> Floats { get; } = [];
    /// <summary><c>ints</c> (field 8).</summary>
    public List<long> Ints { get; } = [];

    /// <summary>An INT attribute.</summary>
    public static OnnxAttribute Int(string name, long value) => new() { Name = name, Type = OnnxAttributeType.Int, I = value };
    /// <summary>A FLOAT attribute.</summary>
    public static OnnxAttribute Float(string name, float value) => new() { Name = name, Type = OnnxAttributeType.Float, F = value };
    /// <summary>A STRING attribute.</summary>
    public static OnnxAttribute String(string name, string value) => new() { Name = name, Type = OnnxAttributeType.String, S = System.Text.Encoding.UTF8.GetBytes(value) };
    /// <summary>A TENSOR attribute (e.g. the <c>value</c> of a Constant node).</summary>
    public static OnnxAttribute Tensor(string name, OnnxTensor value) => new() { Name = name, Type = OnnxAttributeType.Tensor, T = value };
    /// <summary>An INTS attribute.</summary>
    public static OnnxAttribute IntList(string name, params long[] values)
    {
        var a = new OnnxAttribute { Name = name, Type = OnnxAttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }
}

/// <summary>An ONNX <c>ValueInfoProto</c> with a tensor type: name, element type and a shape whose
/// dimensions are either fixed (<c>dim_value</c>) or symbolic (<c>dim_param</c>).</summary>
public sealed class OnnxValueInfo
{
    /// <summary><c>name</c> (field 1).</summary>
    public string Name { get; set; } = "";
    /// <summary><c>type.tensor_type.elem_type</c>.</summary>
    public OnnxDataType ElemType { get; set; }
    /// <summary><c>type.tensor_type.shape.dim</c>; null when the shape is absent (unknown rank).</summary>
    public List<OnnxDim>? Shape { get; set; }
}

/// <summary>One dimension of a <see cref="OnnxValueInfo"/> shape: a fixed size or a symbolic name.</summary>
/// <param name="Value">The fixed size (<c>dim_value</c>), when <paramref name="Param"/> is null.</param>
/// <param name="Param">The symbolic name (<c>dim_param</c>), or null for a fixed dimension.</param>
public readonly record struct OnnxDim(long Value, string? Param)
{
    /// <summary>A fixed dimension.</summary>
    public static implicit operator OnnxDim(long value) => new(value, null);
    /// <summary>A symbolic dimension.</summary>
    public static implicit operator OnnxDim(string param) => new(0, param);
    /// <inheritdoc />
    public override string ToString() => Param ?? Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
