using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Managed.Kernels;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime.Managed;

/// <summary>Issue 13, lean loading: the engine packs straight from a memory map of the file's <c>[in, out]</c> bytes,
/// so loading allocates little more than the packed weights, and the result is the engine it was before.</summary>
public class LeanLoadingTests
{
    private static (sbyte[] W, sbyte[] WT, float[] Scales, float[] Bias) RandomMatrix(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var w = new sbyte[rows * cols];
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)rng.Next(-127, 128);
        var scales = Enumerable.Range(0, rows).Select(_ => (float)rng.NextDouble() + 0.01f).ToArray();
        var bias = Enumerable.Range(0, rows).Select(_ => (float)rng.NextDouble()).ToArray();
        return (w, OnnxLinearWeights.Transpose<sbyte>(w, rows, cols), scales, bias);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 33)]
    [InlineData(16, 32)]
    [InlineData(17, 70)]
    [InlineData(40, 5)]
    public void Packing_from_the_files_input_major_layout_equals_packing_the_transposed_rows(int rows, int cols)
    {
        var (w, wt, scales, bias) = RandomMatrix(rows, cols, seed: rows * 100 + cols);
        var a = new PackedInt8Matrix(w, rows, cols, scales, bias);
        var b = PackedInt8Matrix.FromInputMajor(wt, rows, cols, scales, bias);
        Assert.Equal(a.Data.Span.ToArray(), b.Data.Span.ToArray());
        Assert.Equal(a.Scales, b.Scales);
        Assert.Equal(a.Bias, b.Bias);
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) Assert.Equal(w[r * cols + c], b[r, c]);
        var ca = new ColumnPackedInt8Matrix(w, rows, cols, scales, bias);
        var cb = ColumnPackedInt8Matrix.FromInputMajor(wt, rows, cols, scales, bias);
        Assert.Equal(ca.Data.Span.ToArray(), cb.Data.Span.ToArray());
        Assert.Equal(ca.Scales, cb.Scales);
        Assert.Equal(ca.Bias, cb.Bias);
    }

    /// <summary>A model a few MiB large, so the file and any copy of it dwarf the small float tensors.</summary>
    private static ModelConfig Mid() => ModelConfig.Create(layers: 3, dim: 256, heads: 4, contextLength: 32) with { Taps = [1], FeatureDim = 256 };

    [Theory]
    [InlineData(ActivationPrecision.Float32)]
    [InlineData(ActivationPrecision.Int8)]
    public void Loading_a_file_allocates_little_more_than_the_packed_weights_and_gives_the_same_engine(ActivationPrecision activations)
    {
        var c = Mid().Validate();
        var weights = TinyCheckpoint.RandomWeights(c, seed: 3);
        string path = Path.Combine(Path.GetTempPath(), $"lean-{Guid.NewGuid():N}.onnx");
        OnnxWriter.WriteFile(path, ManagedTestModels.Build(c, weights, int8: true));
        try
        {
            var file = ModelFile.Read(path);
            using (ManagedBackend.Load(file, activations)) { }   // JIT and type loading outside the count
            long before = GC.GetAllocatedBytesForCurrentThread();
            using var fromFile = ManagedBackend.Load(file, activations, threads: 1);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            long fileBytes = new FileInfo(path).Length;
            // The packed weights plus the float tensors (embeddings, norms, biases, scales) are about the file's size;
            // a managed copy of the file or a transposed copy of each matrix would add another file's worth.
            Assert.True(allocated < 1.25 * fileBytes, $"load allocated {allocated} bytes for a {fileBytes}-byte file");

            using var inMemory = ManagedTestModels.Engine(c, weights, int8: true, activations, threads: 1);
            using var a = fromFile.CreateSequence();
            using var b = inMemory.CreateSequence();
            int[] tokens = [1, 2, 3, 4, 5, 6, 7];
            Assert.Equal(b.Append(tokens).ToArray(), a.Append(tokens).ToArray());
        }
        finally { File.Delete(path); }
    }
}
