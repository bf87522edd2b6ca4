using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EdgeShortcut.Quantize;

/// <summary>
/// Runs an exported model with ONNX Runtime's CPU provider, batch 1, feeding every present cache back
/// as the next past cache. Simple rather than fast (caches are copied out each call): it serves
/// validation and tests; the runtime library has its own zero-copy loop.
/// </summary>
public sealed class OnnxCachedRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _cacheNames;                        // past_* input names, in graph order
    private readonly Dictionary<string, (float[] Data, long[] Shape)> _past = new(StringComparer.Ordinal);

    /// <summary>Opens <paramref name="path"/>; <paramref name="threads"/> = 0 lets ORT choose. With
    /// <paramref name="floatActivations"/> the QDQ fusions are off, so ORT folds each DequantizeLinear into a
    /// float weight instead of running the fused int8 MatMulNBits (which quantizes activations).</summary>
    public OnnxCachedRunner(string path, int threads = 0, bool floatActivations = false)
    {
        var meta = OnnxMetadata.Read(ReadMetadata(path), path);
        Config = meta.Model;
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (threads > 0) { options.IntraOpNumThreads = threads; options.InterOpNumThreads = 1; }
        if (floatActivations) options.AddSessionConfigEntry("session.disable_quant_qdq", "1");
        _session = new InferenceSession(path, options);
        _cacheNames = _session.InputNames.Where(n => n.StartsWith("past_", StringComparison.Ordinal)).ToArray();
        Reset();
    }

    /// <summary>The model config from the file's metadata.</summary>
    public ModelConfig Config { get; }

    /// <summary>Number of positions in the caches.</summary>
    public int Past { get; private set; }

    /// <summary>Empties the caches (P = 0).</summary>
    public void Reset()
    {
        Past = 0;
        foreach (string name in _cacheNames) _past[name] = ([], [1, Config.Heads, 0, Config.HeadDim]);
    }

    /// <summary>Runs T new tokens at positions P..P+T-1; returns logits <c>[T * V]</c> and appends to the caches.</summary>
    public float[] Run(IReadOnlyList<int> ids)
    {
        if (ids.Count < 1 || Past + ids.Count > Config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(ids), $"P + T = {Past + ids.Count} must be in 1..n_ctx ({Config.ContextLength}).");
        var inputs = new List<OrtValue>();
        try
        {
            inputs.Add(OrtValue.CreateTensorValueFromMemory(ids.Select(i => (long)i).ToArray(), [1, ids.Count]));
            foreach (string name in _cacheNames) inputs.Add(OrtValue.CreateTensorValueFromMemory(_past[name].Data, _past[name].Shape));
            string[] outputs = ["logits", .. _cacheNames.Select(n => "present_" + n["past_".Length..])];
            using var results = _session.Run(_runOptions, ["input_ids", .. _cacheNames], inputs, outputs);
            for (int i = 0; i < _cacheNames.Length; i++)
            {
                var v = results[i + 1];
                _past[_cacheNames[i]] = (v.GetTensorDataAsSpan<float>().ToArray(), v.GetTensorTypeAndShape().Shape);
            }
            Past += ids.Count;
            return results[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally
        {
            foreach (var v in inputs) v.Dispose();
        }
    }

    /// <summary>The current cache named <paramref name="pastName"/> (e.g. <c>past_shortcut_key</c>) and its shape.</summary>
    public (float[] Data, long[] Shape) Cache(string pastName) => _past[pastName];

    /// <summary>Reads only the metadata of an ONNX file (parses the protobuf once).</summary>
    public static Dictionary<string, string> ReadMetadata(string path) => OnnxReader.ReadFile(path).Metadata();

    /// <inheritdoc />
    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }
}
