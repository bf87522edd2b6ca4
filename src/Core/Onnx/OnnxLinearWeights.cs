namespace EdgeShortcut.Core.Onnx;

/// <summary>
/// The initializers of FORMAT.md section 5 for checkpoint weights: how every writer of a model file (the
/// quantizer, the bench's random models, the engine tests) lays out a Linear, so that no writer spells
/// the layout again. A Linear <c>X.weight</c> <c>[out, in]</c> becomes
/// <list type="bullet">
/// <item>int8: <c>X.weight_q</c> int8 <c>[in, out]</c> + <c>X.weight_scale</c> float32 <c>[out]</c> (<see cref="Int8Quantization"/>);</item>
/// <item>fp32: <c>X.weight_t</c> float32 <c>[in, out]</c>.</item>
/// </list>
/// Other tensors (biases, LayerNorms, embeddings) stay float32 under their checkpoint names.
/// </summary>
internal static class OnnxLinearWeights
{
    /// <summary>The initializers of one Linear weight <paramref name="w"/> <c>[out, in]</c> stored under
    /// <paramref name="stem"/>; for int8, also the fp32 values the file decodes to (<c>q * scale</c>, <c>[out, in]</c>).</summary>
    public static (OnnxTensor[] Initializers, float[]? Dequantized) Linear(string stem, NamedTensor w, bool int8)
    {
        if (w.Shape.Length != 2) throw new ArgumentException($"'{w.Name}' is not a matrix.", nameof(w));
        int rows = w.Shape[0], cols = w.Shape[1];            // rows = out, cols = in
        if (!int8)
            return ([OnnxTensor.FromFloats(OnnxNames.TransposedWeight(stem), [cols, rows], Transpose<float>(w.Data, rows, cols))], null);

        var q = new sbyte[w.Data.Length];
        var scales = new float[rows];
        Int8Quantization.QuantizeRows(w.Data, rows, cols, q, scales);
        var back = new float[w.Data.Length];
        Int8Quantization.DequantizeRows(q, scales, rows, cols, back);
        return ([OnnxTensor.FromInt8(OnnxNames.QuantizedWeight(stem), [cols, rows], Transpose<sbyte>(q, rows, cols)),
                 OnnxTensor.FromFloats(OnnxNames.WeightScale(stem), [rows], scales)], back);
    }

    /// <summary>Whether the checkpoint tensor is a Linear weight (stored as above) rather than a float tensor
    /// kept under its own name: every 2-D tensor except the two embeddings.</summary>
    public static bool IsLinearWeight(string name, int[] shape) =>
        shape.Length == 2 && name is not (TensorNames.TokenEmbedding or TensorNames.PositionEmbedding);

    /// <summary>Every initializer a model file holds for <paramref name="weights"/> (checkpoint names, FORMAT.md
    /// section 3), in <see cref="TensorNames.All"/> order, the head last. No graph nodes: this is what the
    /// managed engine reads, and what the bench and the engine tests write.</summary>
    public static List<OnnxTensor> ForModel(ModelConfig c, IReadOnlyDictionary<string, NamedTensor> weights, bool int8)
    {
        var init = new List<OnnxTensor>();
        foreach (var (name, shape) in TensorNames.All(c))
        {
            var t = weights[name];
            if (IsLinearWeight(name, shape)) init.AddRange(Linear(OnnxNames.LinearStem(name), t, int8).Initializers);
            else init.Add(OnnxTensor.FromFloats(name, [.. shape.Select(s => (long)s)], t.Data));
        }
        if (c.TiedEmbeddings) init.AddRange(Linear(OnnxNames.HeadStem, weights[TensorNames.TokenEmbedding], int8).Initializers);
        return init;
    }

    /// <summary>Row-major <c>[rows, cols]</c> to <c>[cols, rows]</c>, in tiles so both sides stay in cache.</summary>
    public static T[] Transpose<T>(ReadOnlySpan<T> src, int rows, int cols)
    {
        var dst = new T[src.Length];
        Transpose(src, rows, cols, dst);
        return dst;
    }

    /// <summary><see cref="Transpose{T}(ReadOnlySpan{T}, int, int)"/> into <paramref name="dst"/> (<c>[cols, rows]</c>).</summary>
    public static void Transpose<T>(ReadOnlySpan<T> src, int rows, int cols, Span<T> dst)
    {
        if (src.Length != (long)rows * cols || dst.Length != src.Length)
            throw new ArgumentException($"Transposing {rows}x{cols} needs {(long)rows * cols} values on both sides (got {src.Length} and {dst.Length}).");
        const int Tile = 32;
        for (int r0 = 0; r0 < rows; r0 += Tile)
            for (int c0 = 0; c0 < cols; c0 += Tile)
                for (int r = r0; r < Math.Min(r0 + Tile, rows); r++)
                    for (int c = c0; c < Math.Min(c0 + Tile, cols); c++)
                        dst[(int)((long)c * rows + r)] = src[(int)((long)r * cols + c)];
    }
}
