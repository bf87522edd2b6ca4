using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Onnx;

namespace EdgeShortcut.Tests.Support;

/// <summary>
/// An exported file on the runtime's own ONNX Runtime loop (CPU provider, batch 1), returning the logits
/// of every appended token: the tests' view of "what ORT computes" for a file.
/// </summary>
internal sealed class OrtSequence : IDisposable
{
    private readonly OnnxRuntimeBackend _backend;
    private readonly OnnxRuntimeSequence _sequence;

    /// <summary>Opens <paramref name="path"/>; <paramref name="threads"/> = 0 lets ORT choose. With
    /// <paramref name="floatActivations"/> ORT folds each DequantizeLinear into a float weight; without, it runs
    /// the fused int8 MatMulNBits (activations quantized per block of 32).</summary>
    public OrtSequence(string path, int threads = 0, bool floatActivations = false)
    {
        var options = new EdgeModelOptions
        {
            Backend = BackendKind.Cpu, Threads = threads,
            Activations = floatActivations ? ActivationPrecision.Float32 : ActivationPrecision.Int8,
        };
        _backend = new OnnxRuntimeBackend(ModelFile.Read(path), BackendKind.Cpu, options);
        _sequence = (OnnxRuntimeSequence)_backend.CreateSequence();
    }

    /// <summary>The model config from the file's metadata.</summary>
    public ModelConfig Config => _backend.Config;

    /// <summary>Number of positions in the caches.</summary>
    public int Past => _sequence.Length;

    /// <summary>Appends <paramref name="ids"/> at positions P..P+T-1; returns their logits <c>[T * V]</c>.</summary>
    public float[] Run(IReadOnlyList<int> ids) => _sequence.AppendAll([.. ids]).ToArray();

    /// <summary>Empties the caches.</summary>
    public void Reset() => _sequence.Reset();

    public void Dispose()
    {
        _sequence.Dispose();
        _backend.Dispose();
    }
}
