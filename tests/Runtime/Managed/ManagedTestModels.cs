using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>
/// Builds ONNX models holding only what the managed engine reads (FORMAT.md section 5 initializers, laid
/// out by <see cref="OnnxLinearWeights"/>, and metadata; no graph nodes) from checkpoint-named fp32
/// weights, so engine tests do not depend on the quantizer's graph builder.
/// </summary>
internal static class ManagedTestModels
{
    /// <summary>A tiny shortcut config with 8 positions to spare for decode tests: L 3, d 16, H 2, n_ctx 16.</summary>
    public static ModelConfig Tiny(bool shortcut = true, bool tied = true) => TinyCheckpoint.Config(shortcut, tied);

    /// <summary>The ONNX model for <paramref name="weights"/> in the chosen precision.</summary>
    public static OnnxModel Build(ModelConfig config, IReadOnlyDictionary<string, NamedTensor> weights, bool int8)
    {
        var model = new OnnxModel { IrVersion = 8, ProducerName = "ManagedTestModels" };
        model.OpsetImports.Add(("", 17));
        var spec = new TokenizerSpec(config.VocabSize == 256 ? TokenizerSpec.ByteKind : TokenizerSpec.TokenFileKind, config.VocabSize);
        model.MetadataProps.AddRange(new OnnxMetadata(config, spec, int8 ? OnnxMetadata.Int8 : OnnxMetadata.Fp32, new string('0', 64)).ToProps());
        model.Graph.Initializers.AddRange(OnnxLinearWeights.ForModel(config, weights, int8));
        return model;
    }

    /// <summary>The fp32 weights the int8 file decodes to (<c>q * scale</c> for every Linear, the head included).</summary>
    public static Dictionary<string, NamedTensor> Dequantized(ModelConfig config, IReadOnlyDictionary<string, NamedTensor> weights)
    {
        var result = new Dictionary<string, NamedTensor>(weights, StringComparer.Ordinal);
        foreach (var (name, shape) in TensorNames.All(config))
        {
            if (shape.Length != 2 || name is TensorNames.TokenEmbedding or TensorNames.PositionEmbedding) continue;
            result[name] = RoundTrip(weights[name]);
        }
        return result;
    }

    /// <summary>Round-trips one <c>[rows, cols]</c> tensor through the int8 scheme.</summary>
    public static NamedTensor RoundTrip(NamedTensor w)
    {
        int rows = w.Shape[0], cols = w.Shape[1];
        var q = new sbyte[rows * cols];
        var scales = new float[rows];
        Int8Quantization.QuantizeRows(w.Data, rows, cols, q, scales);
        var data = new float[rows * cols];
        Int8Quantization.DequantizeRows(q, scales, rows, cols, data);
        return w with { Data = data };
    }

    /// <summary>Loads an engine straight from <see cref="Build"/> via the ONNX bytes (writer and reader included).
    /// An int8 file runs on the int8 kernels (int8 activations) unless <paramref name="activations"/> says otherwise.</summary>
    public static ManagedBackend Engine(ModelConfig config, IReadOnlyDictionary<string, NamedTensor> weights, bool int8, ActivationPrecision? activations = null, int threads = 0) =>
        ManagedBackend.FromOnnx(OnnxReader.Read(OnnxWriter.ToBytes(Build(config, weights, int8)), "test.onnx"), "test.onnx",
            activations ?? (int8 ? ActivationPrecision.Int8 : ActivationPrecision.Float32), threads);

    /// <summary>Normalized mean squared error <c>sum (a - r)^2 / sum r^2</c> over all rows.</summary>
    public static double Nmse(IEnumerable<float[]> actual, IEnumerable<float[]> reference)
    {
        double num = 0, den = 0;
        foreach (var (a, r) in actual.Zip(reference))
        {
            Assert.Equal(r.Length, a.Length);
            for (int i = 0; i < r.Length; i++) { num += (a[i] - (double)r[i]) * (a[i] - (double)r[i]); den += (double)r[i] * r[i]; }
        }
        return num / den;
    }
}
