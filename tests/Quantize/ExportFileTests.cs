using System.Security.Cryptography;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Quantize;

/// <summary>What the exported file holds (initializers, metadata) and what bad checkpoints do.</summary>
public sealed class ExportFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("es-file-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    private string Ckpt(ModelConfig c, int seed = 1)
    {
        string dir = Path.Combine(_dir, $"ckpt{seed}");
        TinyCheckpoint.Write(dir, c, seed);
        return dir;
    }

    [Fact]
    public void Int8_initializers_follow_the_format_and_reconstruct_within_half_a_step()
    {
        var c = TinyCheckpoint.Config(shortcut: true, tied: true);
        string ckpt = Ckpt(c);
        // Adversarial rows in one weight: row 0 all zeros, row 1 one huge outlier.
        var (cfg, w) = Checkpoint.Load(ckpt);
        var fc = w["blocks.0.mlp.fc.weight"];                   // [d_ff, d]
        int inDim = fc.Shape[1];
        Array.Clear(fc.Data, 0, inDim);
        fc.Data[inDim + 3] = 1000f;
        Safetensors.Write(Path.Combine(ckpt, Checkpoint.WeightsFile), TensorNames.All(c).Select(t => w[t.Name]));

        string path = Path.Combine(_dir, "m.onnx");
        var result = OnnxExporter.Export(ckpt, path, ExportPrecision.Int8);
        var inits = OnnxReader.ReadFile(path).Graph.InitializersByName();

        foreach (var (name, shape) in TensorNames.All(c).Where(t => t.Shape.Length == 2 && t.Name is not (TensorNames.TokenEmbedding or TensorNames.PositionEmbedding)))
        {
            string stem = name[..^".weight".Length];
            var q = inits[$"{stem}.weight_q"];
            var s = inits[$"{stem}.weight_scale"];
            Assert.Equal(OnnxDataType.Int8, q.DataType);
            Assert.Equal([(long)shape[1], shape[0]], q.Dims);          // transposed: [in, out]
            Assert.Equal([(long)shape[0]], s.Dims);
            Assert.DoesNotContain((sbyte)-128, q.AsInt8().ToArray());
            var orig = w[name].Data;
            for (int o = 0; o < shape[0]; o++)
                for (int i = 0; i < shape[1]; i++)
                {
                    float back = q.AsInt8()[i * shape[0] + o] * s.AsFloats()[o];
                    Assert.True(Math.Abs(back - orig[o * shape[1] + i]) <= s.AsFloats()[o] / 2 * 1.0001, $"{name}[{o},{i}]");
                }
        }
        var fcQ = inits["blocks.0.mlp.fc.weight_q"].AsInt8();
        int outDim = fc.Shape[0];
        for (int i = 0; i < inDim; i++) Assert.Equal(0, fcQ[i * outDim]);           // zero row stays exactly zero
        Assert.Equal(1f, inits["blocks.0.mlp.fc.weight_scale"].AsFloats()[0]);
        Assert.Equal(127, fcQ[3 * outDim + 1]);                                    // the outlier is the row's max
        Assert.Equal(1000f / 127, inits["blocks.0.mlp.fc.weight_scale"].AsFloats()[1]);
        // Tied: the head is the quantized token embedding, [d, V]; the embedding stays float for Gather.
        Assert.Equal([(long)c.Dim, c.VocabSize], inits["head.weight_q"].Dims);
        Assert.Equal(w[TensorNames.TokenEmbedding].Data, inits[TensorNames.TokenEmbedding].AsFloats().ToArray());
        Assert.DoesNotContain(inits.Keys, k => k.EndsWith(".weight_t"));
        // The report measured every Linear (incl. the head), the outlier row dominating its tensor.
        Assert.Equal(inits.Keys.Count(k => k.EndsWith(".weight_q")), result.Errors.Count);
        var fcErr = result.Errors.Single(e => e.Name == "blocks.0.mlp.fc.weight");
        Assert.True(fcErr.MaxAbs <= 1000f / 127 / 2 + 1e-4);
    }

    [Fact]
    public void Metadata_describes_the_model_and_hashes_the_source()
    {
        var c = TinyCheckpoint.Config(shortcut: false, tied: false);
        string ckpt = Ckpt(c, seed: 2);
        string path = Path.Combine(_dir, "m.onnx");
        OnnxExporter.Export(ckpt, path, ExportPrecision.Fp32);
        var meta = OnnxMetadata.Read(OnnxReader.ReadFile(path).Metadata(), path);
        Assert.Equal(c, meta.Model);
        Assert.Equal(TokenizerSpec.Bytes, meta.Tokenizer);
        Assert.Equal("fp32", meta.Precision);
        using var f = File.OpenRead(Path.Combine(ckpt, Checkpoint.WeightsFile));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(f)), meta.SourceSha256);
        var inits = OnnxReader.ReadFile(path).Graph.InitializersByName();
        Assert.Equal([(long)c.Dim, c.VocabSize], inits["head.weight_t"].Dims);
        Assert.DoesNotContain(inits.Keys, k => k.EndsWith(".weight_q"));
    }

    [Fact]
    public void Checkpoint_whose_tensors_do_not_match_its_config_names_the_tensor_and_writes_nothing()
    {
        var c = TinyCheckpoint.Config();
        string ckpt = Ckpt(c);
        Checkpoint.WriteConfig(ckpt, new CheckpointConfig { Model = c with { FeedForwardDim = 48 } });
        string path = Path.Combine(_dir, "m.onnx");
        var e = Assert.Throws<CheckpointFormatException>(() => OnnxExporter.Export(ckpt, path, ExportPrecision.Int8));
        Assert.Contains("blocks.0.mlp.fc.weight", e.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Truncated_weights_fail_and_leave_a_previous_output_untouched()
    {
        string ckpt = Ckpt(TinyCheckpoint.Config());
        string path = Path.Combine(_dir, "m.onnx");
        File.WriteAllText(path, "previous");
        string weights = Path.Combine(ckpt, Checkpoint.WeightsFile);
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..^100]);
        var e = Assert.Throws<CheckpointFormatException>(() => OnnxExporter.Export(ckpt, path, ExportPrecision.Int8));
        Assert.Contains("truncated", e.Message);
        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Unknown_checkpoint_format_version_is_refused()
    {
        string ckpt = Ckpt(TinyCheckpoint.Config());
        string config = Path.Combine(ckpt, Checkpoint.ConfigFile);
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"format_version\": 1", "\"format_version\": 7"));
        var e = Assert.Throws<CheckpointFormatException>(() => OnnxExporter.Export(ckpt, Path.Combine(_dir, "m.onnx"), ExportPrecision.Int8));
        Assert.Contains("format_version 7", e.Message);
    }

    [Fact]
    public void Onnx_file_of_an_unknown_format_version_or_without_metadata_is_refused()
    {
        var props = new OnnxMetadata(TinyCheckpoint.Config(), TokenizerSpec.Bytes, "int8", "ab").ToProps().ToDictionary();
        Assert.Equal(TinyCheckpoint.Config(), OnnxMetadata.Read(props, "m.onnx").Model);
        props[OnnxMetadata.FormatVersionKey] = "2";
        Assert.Contains("unknown edgeshortcut.format_version '2'", Assert.Throws<CheckpointFormatException>(() => OnnxMetadata.Read(props, "m.onnx")).Message);
        props.Remove(OnnxMetadata.FormatVersionKey);
        Assert.Contains("missing", Assert.Throws<CheckpointFormatException>(() => OnnxMetadata.Read(props, "m.onnx")).Message);
    }
}
