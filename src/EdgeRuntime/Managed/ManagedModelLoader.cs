using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Runtime.Managed.Kernels;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// Builds <see cref="ManagedWeights"/> from an ONNX model file (docs/FORMAT.md section 5): the config
/// from its already-validated metadata (<see cref="ModelFileInfo"/>), every weight straight from the initializers (the graph's nodes are not
/// used). int8 Linear weights <c>X.weight_q</c> <c>[in, out]</c> + <c>X.weight_scale</c> <c>[out]</c>, or fp32
/// <c>X.weight_t</c> <c>[in, out]</c>, are re-laid to <c>[out, in]</c> rows. Any missing, mistyped,
/// mis-shaped or non-finite tensor raises <see cref="CheckpointFormatException"/> naming the file and tensor.
/// </summary>
internal static class ManagedModelLoader
{
    /// <summary>Reads the weights of <paramref name="model"/>, whose validated metadata is <paramref name="file"/>.</summary>
    public static ManagedWeights Load(OnnxModel model, ModelFileInfo file, ActivationPrecision activations = ActivationPrecision.Float32)
    {
        var config = file.Config;
        var r = new Initializers(model.Graph.InitializersByName(), file.Path, file.Precision == OnnxMetadata.Int8, activations);
        int d = config.Dim, f = config.FeedForwardDim, m = config.FeatureDim, V = config.VocabSize;
        var blocks = new BlockWeights[config.SelfAttentionBlocks];
        for (int i = 0; i < blocks.Length; i++)
        {
            string p = TensorNames.Block(i);
            blocks[i] = new BlockWeights(r.Norm($"{p}.ln1", d), r.Linear($"{p}.attn.qkv", 3 * d, d), r.Linear($"{p}.attn.proj", d, d),
                r.Norm($"{p}.ln2", d), r.Linear($"{p}.mlp.fc", f, d), r.Linear($"{p}.mlp.proj", d, f));
        }
        var features = new FeatureWeights[config.TapCount];
        for (int j = 0; j < features.Length; j++)
        {
            string p = TensorNames.Feature(j);
            features[j] = new FeatureWeights(r.Norm($"{p}.ln", d), r.Linear($"{p}.fc", m, d), r.Linear($"{p}.proj", d, m));
        }
        ShortcutWeights? shortcut = null;
        if (config.IsShortcut)
        {
            string s = TensorNames.Shortcut;
            shortcut = new ShortcutWeights(r.Norm($"{s}.ln_q", d), r.Linear($"{s}.attn.q", d, d), r.Linear($"{s}.attn.kv", 2 * d, d),
                r.Linear($"{s}.attn.proj", d, d), r.Norm($"{s}.ln2", d), r.Linear($"{s}.mlp.fc", f, d), r.Linear($"{s}.mlp.proj", d, f));
        }
        return new ManagedWeights(config, r.IsInt8,
            r.Floats(TensorNames.TokenEmbedding, V, d), r.Floats(TensorNames.PositionEmbedding, config.ContextLength, d),
            blocks, features, shortcut, r.Norm(TensorNames.FinalNorm, d),
            r.Linear(OnnxNames.HeadStem, V, d, hasBias: false));
    }

    /// <summary>Typed, checked access to the initializers by name.</summary>
    private sealed class Initializers(Dictionary<string, OnnxTensor> byName, string source, bool isInt8, ActivationPrecision activations)
    {
        /// <summary>Whether the Linear layers are built on the int8 kernels.</summary>
        public bool IsInt8 => isInt8 && activations == ActivationPrecision.Int8;

        private OnnxTensor Get(string name, OnnxDataType type, params long[] dims)
        {
            if (!byName.TryGetValue(name, out var t))
                throw new CheckpointFormatException(source, $"initializer '{name}' is missing ({(isInt8 ? "int8" : "fp32")} model)");
            if (t.DataType != type) throw new CheckpointFormatException(source, $"initializer '{name}' is {t.DataType}, expected {type}");
            if (!t.Dims.AsSpan().SequenceEqual(dims))
                throw new CheckpointFormatException(source, $"initializer '{name}' has shape [{string.Join(",", t.Dims)}], expected [{string.Join(",", dims)}]");
            return t;
        }

        /// <summary>A float32 tensor of the given shape, copied; every value must be finite.</summary>
        public float[] Floats(string name, params long[] dims)
        {
            var values = Get(name, OnnxDataType.Float, dims).AsFloats();
            int bad = IndexOfNonFinite(values);
            if (bad >= 0) throw new CheckpointFormatException(source, $"initializer '{name}' holds a non-finite value ({values[bad]}) at index {bad}");
            return values.ToArray();
        }

        public NormWeights Norm(string prefix, int d) => new(Floats($"{prefix}.weight", d), Floats($"{prefix}.bias", d));

        /// <summary>Linear <c>prefix.weight</c> <c>[rows=out, cols=in]</c> in the file's precision, plus <c>prefix.bias</c>.</summary>
        public ManagedLinear Linear(string prefix, int rows, int cols, bool hasBias = true)
        {
            float[] bias = hasBias ? Floats($"{prefix}.bias", rows) : [];
            if (!isInt8)
            {
                var wt = Floats(OnnxNames.TransposedWeight(prefix), cols, rows);
                var weights = new AlignedArray<float>((long)rows * cols, zeroed: false);
                OnnxLinearWeights.Transpose<float>(wt, cols, rows, weights.Span);
                return new Fp32Linear(prefix, rows, cols, weights, bias);
            }
            string scaleName = OnnxNames.WeightScale(prefix);
            var scales = Floats(scaleName, rows);
            int badScale = Array.FindIndex(scales, s => !(s > 0));
            if (badScale >= 0) throw new CheckpointFormatException(source, $"initializer '{scaleName}' holds a non-positive scale ({scales[badScale]}) at index {badScale}");
            // Packed straight from the file's [in, out] bytes: no transposed copy (lean loading).
            var q = Get(OnnxNames.QuantizedWeight(prefix), OnnxDataType.Int8, cols, rows).AsInt8();
            if (activations == ActivationPrecision.Int8) return new Int8Linear(prefix, PackedInt8Matrix.FromInputMajor(q, rows, cols, scales, bias), bias);
            return new WeightOnlyInt8Linear(prefix, ColumnPackedInt8Matrix.FromInputMajor(q, rows, cols, scales, bias), bias);
        }

        private static int IndexOfNonFinite(ReadOnlySpan<float> values)
        {
            for (int i = 0; i < values.Length; i++) if (!float.IsFinite(values[i])) return i;
            return -1;
        }
    }
}
