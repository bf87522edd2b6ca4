using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// A random model in the FORMAT.md section 5 layout (initializers and metadata only; the managed
/// engine reads nothing else), so the engine can be timed at any size without a trained file.
/// Timing does not depend on the values, only on the shapes.
/// </summary>
internal static class RandomModel
{
    public static OnnxModel Build(ModelConfig c, bool int8, int seed = 1)
    {
        var rng = new Random(seed);
        var m = new OnnxModel { IrVersion = 8, ProducerName = "ManagedBench" };
        m.MetadataProps.AddRange(new OnnxMetadata(c, new TokenizerSpec(TokenizerSpec.TokenFileKind, c.VocabSize),
            int8 ? OnnxMetadata.Int8 : OnnxMetadata.Fp32, new string('0', 64)).ToProps());
        var init = m.Graph.Initializers;
        float[] Floats(long n, double range, double offset = 0) =>
            [.. Enumerable.Range(0, (int)n).Select(_ => (float)(offset + (rng.NextDouble() * 2 - 1) * range))];
        void Linear(string prefix, int outDim, int inDim)
        {
            if (int8)
            {
                var q = new sbyte[outDim * inDim];
                for (int i = 0; i < q.Length; i++) q[i] = (sbyte)rng.Next(-127, 128);
                init.Add(OnnxTensor.FromInt8($"{prefix}.weight_q", [inDim, outDim], q));
                init.Add(OnnxTensor.FromFloats($"{prefix}.weight_scale", [outDim], Floats(outDim, 0, 1.0 / 127 / Math.Sqrt(inDim))));
            }
            else init.Add(OnnxTensor.FromFloats($"{prefix}.weight_t", [inDim, outDim], Floats((long)inDim * outDim, 1 / Math.Sqrt(inDim))));
        }
        foreach (var (name, shape) in TensorNames.All(c))
        {
            bool isLinear = shape.Length == 2 && name is not (TensorNames.TokenEmbedding or TensorNames.PositionEmbedding);
            if (isLinear) Linear(name[..^".weight".Length], shape[0], shape[1]);
            else init.Add(OnnxTensor.FromFloats(name, [.. shape.Select(s => (long)s)],
                Floats(shape.Aggregate(1L, (a, b) => a * b), name.EndsWith(".bias") ? 0.1 : 0.5, name.Contains("ln") && name.EndsWith(".weight") ? 1 : 0)));
        }
        if (c.TiedEmbeddings) Linear("head", c.VocabSize, c.Dim);
        return m;
    }
}
