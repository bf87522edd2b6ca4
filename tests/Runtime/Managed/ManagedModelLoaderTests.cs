using EdgeShortcut.Runtime;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Bad model files fail at load with a <see cref="CheckpointFormatException"/> naming the file and the tensor or key.</summary>
public class ManagedModelLoaderTests
{
    private static readonly ModelConfig Config = ManagedTestModels.Tiny();
    private static readonly Dictionary<string, NamedTensor> Weights = TinyCheckpoint.RandomWeights(Config, seed: 8);

    private static CheckpointFormatException LoadFails(OnnxModel model) =>
        Assert.Throws<CheckpointFormatException>(() => ManagedBackend.FromOnnx(model, "bad.onnx"));

    private static OnnxModel Replace(OnnxModel model, string name, Func<OnnxTensor, OnnxTensor?> change)
    {
        var init = model.Graph.Initializers;
        int i = init.FindIndex(t => t.Name == name);
        Assert.True(i >= 0, $"test setup: no initializer {name}");
        var replacement = change(init[i]);
        if (replacement is null) init.RemoveAt(i); else init[i] = replacement;
        return model;
    }

    [Theory]
    [InlineData(true, "blocks.1.attn.qkv.weight_q")]
    [InlineData(true, "blocks.0.mlp.fc.weight_scale")]
    [InlineData(true, "features.1.proj.weight_q")]
    [InlineData(true, "shortcut.attn.kv.bias")]
    [InlineData(true, "head.weight_q")]
    [InlineData(false, "shortcut.mlp.proj.weight_t")]
    [InlineData(false, "pos_emb.weight")]
    [InlineData(false, "ln_f.bias")]
    public void A_missing_initializer_is_named(bool int8, string name)
    {
        var e = LoadFails(Replace(ManagedTestModels.Build(Config, Weights, int8), name, _ => null));
        Assert.Equal("bad.onnx", e.FilePath);
        Assert.Contains($"'{name}' is missing", e.Message);
    }

    [Fact]
    public void A_wrong_shape_or_type_is_named()
    {
        var e = LoadFails(Replace(ManagedTestModels.Build(Config, Weights, true), "blocks.0.attn.proj.weight_q",
            t => OnnxTensor.FromInt8(t.Name, [t.Dims[1], t.Dims[0] + 1], new sbyte[(int)((t.Dims[0] + 1) * t.Dims[1])])));
        Assert.Contains("'blocks.0.attn.proj.weight_q' has shape [16,17], expected [16,16]", e.Message);

        e = LoadFails(Replace(ManagedTestModels.Build(Config, Weights, true), "blocks.0.attn.proj.weight_q",
            t => OnnxTensor.FromFloats(t.Name, t.Dims, new float[t.ElementCount])));
        Assert.Contains("'blocks.0.attn.proj.weight_q' is Float, expected Int8", e.Message);
    }

    [Fact]
    public void Non_finite_values_and_non_positive_scales_are_named()
    {
        var e = LoadFails(Replace(ManagedTestModels.Build(Config, Weights, true), "tok_emb.weight", t =>
        {
            var v = t.AsFloats().ToArray();
            v[37] = float.NaN;
            return OnnxTensor.FromFloats(t.Name, t.Dims, v);
        }));
        Assert.Contains("'tok_emb.weight' holds a non-finite value (NaN) at index 37", e.Message);

        e = LoadFails(Replace(ManagedTestModels.Build(Config, Weights, true), "shortcut.attn.q.weight_scale", t =>
        {
            var v = t.AsFloats().ToArray();
            v[3] = 0;
            return OnnxTensor.FromFloats(t.Name, t.Dims, v);
        }));
        Assert.Contains("'shortcut.attn.q.weight_scale' holds a non-positive scale (0) at index 3", e.Message);
    }

    [Fact]
    public void Missing_or_bad_metadata_is_named()
    {
        static OnnxModel WithMetadata(string key, string? value)
        {
            var m = ManagedTestModels.Build(Config, Weights, true);
            m.MetadataProps.RemoveAll(p => p.Key == key);
            if (value is not null) m.MetadataProps.Add(new(key, value));
            return m;
        }
        Assert.Contains("'edgeshortcut.model_config' is missing", LoadFails(WithMetadata(OnnxMetadata.ModelConfigKey, null)).Message);
        Assert.Contains("edgeshortcut.format_version '2'", LoadFails(WithMetadata(OnnxMetadata.FormatVersionKey, "2")).Message);
        Assert.Contains("'edgeshortcut.precision' is 'int4'", LoadFails(WithMetadata(OnnxMetadata.PrecisionKey, "int4")).Message);
        Assert.Contains("'edgeshortcut.model_config' is not valid JSON", LoadFails(WithMetadata(OnnxMetadata.ModelConfigKey, "{not json")).Message);
        Assert.Contains("'n_head'", LoadFails(WithMetadata(OnnxMetadata.ModelConfigKey,
            System.Text.Json.JsonSerializer.Serialize(Config with { Heads = 3 }))).Message);
    }

    [Fact]
    public void An_fp32_file_labelled_int8_names_the_first_int8_tensor_it_lacks()
    {
        var m = ManagedTestModels.Build(Config, Weights, int8: false);
        m.MetadataProps.RemoveAll(p => p.Key == OnnxMetadata.PrecisionKey);
        m.MetadataProps.Add(new(OnnxMetadata.PrecisionKey, OnnxMetadata.Int8));
        m.MetadataProps.Add(new(OnnxMetadata.QuantizationKey, OnnxMetadata.Int8Scheme));
        Assert.Contains("'blocks.0.attn.qkv.weight_scale' is missing (int8 model)", LoadFails(m).Message);
    }

    [Fact]
    public void Missing_and_truncated_files_fail_with_the_path()
    {
        string dir = Directory.CreateTempSubdirectory("managed-loader-").FullName;
        try
        {
            string missing = Path.Combine(dir, "none.onnx");
            Assert.Equal(missing, Assert.Throws<CheckpointFormatException>(() => ManagedBackend.Load(ModelFile.Read(missing))).FilePath);
            var bytes = OnnxWriter.ToBytes(ManagedTestModels.Build(Config, Weights, true));
            string truncated = Path.Combine(dir, "truncated.onnx");
            File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
            Assert.Equal(truncated, Assert.Throws<CheckpointFormatException>(() => ManagedBackend.Load(ModelFile.Read(truncated))).FilePath);
            string good = Path.Combine(dir, "good.onnx");
            File.WriteAllBytes(good, bytes);
            using var engine = ManagedBackend.Load(ModelFile.Read(good));
            Assert.Equal(Config, engine.Config);
            Assert.False(engine.IsInt8);   // the default float32 activations dequantize the int8 weights at load
            using var int8Engine = ManagedBackend.Load(ModelFile.Read(good), ActivationPrecision.Int8);
            Assert.True(int8Engine.IsInt8);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
