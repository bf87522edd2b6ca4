using System.Text;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Core;

public sealed class OnnxProtobufTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("es-onnx-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>y = (x + bias) * 2 with every field kind of the subset: ints/floats/string/tensor attributes,
    /// int8/int64/float initializers, fixed and symbolic dims, metadata.</summary>
    private static OnnxModel SampleModel()
    {
        var m = new OnnxModel { IrVersion = 8, ProducerName = "edgeshortcut-test", ProducerVersion = "1" };
        m.OpsetImports.Add(("", 17));
        m.MetadataProps.Add(new("edgeshortcut.format_version", "1"));
        m.MetadataProps.Add(new("unicode", "héllo ✓"));
        var g = m.Graph;
        g.Name = "sample";
        g.Initializers.Add(OnnxTensor.FromFloats("bias", [3], [0.5f, -1f, float.Epsilon]));
        g.Initializers.Add(OnnxTensor.FromInt8("q", [2, 2], [-127, 0, 5, 127]));
        g.Initializers.Add(OnnxTensor.FromInt64("axes", [1], [-1]));
        g.Inputs.Add(new OnnxValueInfo { Name = "x", ElemType = OnnxDataType.Float, Shape = ["batch", 3] });
        g.Outputs.Add(new OnnxValueInfo { Name = "y", ElemType = OnnxDataType.Float, Shape = ["batch", 3] });
        g.Nodes.Add(new OnnxNode { OpType = "Add", Name = "add", Inputs = { "x", "bias" }, Outputs = { "s" } });
        var two = new OnnxNode { OpType = "Constant", Outputs = { "two" } };
        two.Attributes.Add(OnnxAttribute.Tensor("value", OnnxTensor.FromFloats("", [], [2f])));
        g.Nodes.Add(two);
        g.Nodes.Add(new OnnxNode { OpType = "Mul", Inputs = { "s", "two" }, Outputs = { "y" } });
        return m;
    }

    [Fact]
    public void Round_trip_keeps_every_field()
    {
        var m = SampleModel();
        var odd = new OnnxNode { OpType = "Custom", Domain = "test.domain", Inputs = { "", "x" }, Outputs = { "z" } };
        odd.Attributes.Add(OnnxAttribute.Float("alpha", -0.25f));
        odd.Attributes.Add(OnnxAttribute.Int("axis", -3));
        odd.Attributes.Add(OnnxAttribute.String("mode", "exact"));
        odd.Attributes.Add(OnnxAttribute.IntList("perm", 0, 2, 1, long.MinValue));
        var floats = new OnnxAttribute { Name = "scales", Type = OnnxAttributeType.Floats };
        floats.Floats.AddRange([1.5f, float.NegativeInfinity]);
        odd.Attributes.Add(floats);
        m.Graph.Nodes.Add(odd);

        var back = OnnxReader.Read(OnnxWriter.ToBytes(m), "memory");

        Assert.Equal(8, back.IrVersion);
        Assert.Equal([("", 17L)], back.OpsetImports);
        Assert.Equal("edgeshortcut-test", back.ProducerName);
        Assert.Equal("héllo ✓", back.Metadata()["unicode"]);
        Assert.Equal("sample", back.Graph.Name);
        var inits = back.Graph.InitializersByName();
        Assert.Equal([0.5f, -1f, float.Epsilon], inits["bias"].AsFloats().ToArray());
        Assert.Equal([-127, 0, 5, 127], inits["q"].AsInt8().ToArray().Select(v => (int)v));
        Assert.Equal([2L, 2L], inits["q"].Dims);
        Assert.Equal([-1L], inits["axes"].AsInt64().ToArray());
        Assert.Equal(["batch", "3"], back.Graph.Inputs[0].Shape!.Select(d => d.ToString()));
        Assert.Equal(OnnxDataType.Float, back.Graph.Outputs[0].ElemType);
        Assert.Equal(["Add", "Constant", "Mul", "Custom"], back.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(2f, back.Graph.Nodes[1].Attributes[0].T!.AsFloats()[0]);
        Assert.Empty(back.Graph.Nodes[1].Attributes[0].T!.Dims);
        var c = back.Graph.Nodes[3];
        Assert.Equal("test.domain", c.Domain);
        Assert.Equal(["", "x"], c.Inputs);
        Assert.Equal(-0.25f, c.Attributes[0].F);
        Assert.Equal(-3, c.Attributes[1].I);
        Assert.Equal("exact", Encoding.UTF8.GetString(c.Attributes[2].S));
        Assert.Equal([0L, 2L, 1L, long.MinValue], c.Attributes[3].Ints);
        Assert.Equal([1.5f, float.NegativeInfinity], c.Attributes[4].Floats);
        Assert.Equal(OnnxAttributeType.Floats, c.Attributes[4].Type);
        // Writing what was read gives the same bytes: nothing was lost or reordered.
        Assert.Equal(OnnxWriter.ToBytes(m), OnnxWriter.ToBytes(back));
    }

    [Fact]
    public void Python_onnx_accepts_and_reads_what_we_write()
    {
        string path = Path.Combine(_dir, "sample.onnx");
        OnnxWriter.WriteFile(path, SampleModel());
        string output = PythonOnnx.Run("""
            import sys, onnx
            from onnx import numpy_helper
            m = onnx.load(sys.argv[1])
            onnx.checker.check_model(m, full_check=True)
            inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
            print(m.ir_version, m.opset_import[0].version, m.graph.input[0].type.tensor_type.shape.dim[0].dim_param)
            print(list(inits["bias"][:2]), list(inits["q"].flatten()), str(inits["q"].dtype))
            print({p.key: p.value for p in m.metadata_props}["unicode"])
            """, path);
        var lines = output.Split('\n');
        Assert.Equal("8 17 batch", lines[0]);
        Assert.Equal("[0.5, -1.0] [-127, 0, 5, 127] int8", lines[1]);
        Assert.Equal("héllo ✓", lines[2]);
    }

    [Fact]
    public void Reads_typed_value_fields_written_by_python_onnx()
    {
        // onnx.helper.make_tensor without raw=True stores float_data / int32_data / int64_data.
        string path = Path.Combine(_dir, "py.onnx");
        PythonOnnx.Run("""
            import sys, onnx
            from onnx import helper, TensorProto
            inits = [helper.make_tensor("f", TensorProto.FLOAT, [2], [1.25, -3.0]),
                     helper.make_tensor("i8", TensorProto.INT8, [3], [-127, 0, 127]),
                     helper.make_tensor("i64", TensorProto.INT64, [2], [7, -9])]
            x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])
            y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])
            g = helper.make_graph([helper.make_node("Add", ["x", "f"], ["y"])], "g", [x], [y], inits)
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
            helper.set_model_props(m, {"k": "v"})
            onnx.save(m, sys.argv[1])
            """, path);
        var m = OnnxReader.ReadFile(path);
        var inits = m.Graph.InitializersByName();
        Assert.Equal([1.25f, -3f], inits["f"].AsFloats().ToArray());
        Assert.Equal([-127, 0, 127], inits["i8"].AsInt8().ToArray().Select(v => (int)v));
        Assert.Equal([7L, -9L], inits["i64"].AsInt64().ToArray());
        Assert.Equal("v", m.Metadata()["k"]);
        Assert.Equal("Add", m.Graph.Nodes.Single().OpType);
    }

    [Fact]
    public void Every_truncation_is_a_format_error_or_a_clean_prefix()
    {
        byte[] bytes = OnnxWriter.ToBytes(SampleModel());
        for (int n = 0; n < bytes.Length; n++)
        {
            try { OnnxReader.Read(bytes.AsMemory(0, n), "cut.onnx"); }
            catch (CheckpointFormatException e) { Assert.StartsWith("cut.onnx:", e.Message); }
        }
        // Cutting inside the graph (the first field after ir_version) must fail.
        Assert.Throws<CheckpointFormatException>(() => OnnxReader.Read(bytes.AsMemory(0, bytes.Length / 2), "cut.onnx"));
    }

    [Fact]
    public void Random_corruption_only_ever_raises_format_errors()
    {
        byte[] good = OnnxWriter.ToBytes(SampleModel());
        var rng = new Random(7);
        for (int trial = 0; trial < 3000; trial++)
        {
            byte[] bad = (byte[])good.Clone();
            for (int k = rng.Next(1, 4); k > 0; k--) bad[rng.Next(bad.Length)] = (byte)rng.Next(256);
            try { OnnxReader.Read(bad, "fuzz.onnx"); }
            catch (CheckpointFormatException) { }
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })]                               // graph length 4 GiB
    [InlineData(new byte[] { 0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })] // 11-byte varint
    [InlineData(new byte[] { 0x3A, 0x02, 0x2A, 0x7F })]                                            // initializer longer than its graph
    [InlineData(new byte[] { 0x0B })]                                                              // group wire type
    [InlineData(new byte[] { 0x08, 0x08 })]                                                        // no graph at all
    [InlineData(new byte[] { })]
    public void Hostile_lengths_are_format_errors(byte[] bytes)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => OnnxReader.Read(bytes, "bad.onnx"));
        Assert.Equal("bad.onnx", e.FilePath);
    }

    [Fact]
    public void Tensor_whose_data_does_not_match_its_dims_is_refused()
    {
        // TensorProto { dims: 4, data_type: FLOAT, name: "w", raw_data: 8 bytes } inside a graph.
        byte[] tensor = [0x08, 0x04, 0x10, 0x01, 0x42, 0x01, (byte)'w', 0x4A, 0x08, 0, 0, 0, 0, 0, 0, 0, 0];
        byte[] graph = [0x2A, (byte)tensor.Length, .. tensor];
        byte[] model = [0x3A, (byte)graph.Length, .. graph];
        var e = Assert.Throws<CheckpointFormatException>(() => OnnxReader.Read(model, "m.onnx"));
        Assert.Contains("'w'", e.Message);
    }
}
