using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.Runtime.Onnx;

/// <summary>
/// The last load-time check of an ONNX Runtime backend: the file's graph must compute the model that its
/// metadata and initializers describe. <see cref="ModelGraphCheck"/> checks what can be checked
/// statically (initializers, cache dims, operators, wiring, constants, LayerNorm epsilon); a graph can
/// still pass it and compute something else (a node rewired to another value, an edited attribute). So a
/// short probe runs on both engines (a prefill of a few tokens, then one cached decode step) and the
/// logits must agree within <see cref="Bound"/> in normalized MSE, the bound of the console's
/// <c>parity</c> command; the managed engine computes the function from the metadata and initializers
/// alone. Both engines agree on every valid file to ~1e-14 (float32 activations) or ~1e-5 (int8).
/// </summary>
internal static class GraphAgreementProbe
{
    /// <summary>Largest accepted normalized MSE, sum((a-b)^2) / sum(a^2), of the probe's logits.</summary>
    public const double Bound = 1e-3;

    /// <summary>Throws <see cref="CheckpointFormatException"/> when the session's graph and the managed engine disagree.</summary>
    public static void Verify(OnnxRuntimeBackend backend, OnnxModel model, ModelFileInfo file, ActivationPrecision activations)
    {
        using var reference = ManagedBackend.FromOnnx(model, file.Path, activations);
        using var expected = reference.CreateSequence();
        using var actual = backend.CreateSequence();
        int v = file.Config.VocabSize, prompt = Math.Min(4, file.Config.ContextLength - 1);
        int[] tokens = [.. Enumerable.Range(0, Math.Max(1, prompt)).Select(i => (7 * i + 1) % v)];
        Compare(expected.Append(tokens), actual.Append(tokens), "a prefill", file);
        if (file.Config.ContextLength > tokens.Length)
            Compare(expected.Append([2 % v]), actual.Append([2 % v]), "a cached decode step", file);
    }

    private static void Compare(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string step, ModelFileInfo file)
    {
        bool finiteExpected = AllFinite(expected), finiteActual = AllFinite(actual);
        if (!finiteExpected && !finiteActual) return;   // both overflow: generation reports it (NonFiniteValueException)
        double err = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)expected[i] - actual[i];
            err += d * d;
            norm += (double)expected[i] * expected[i];
        }
        double nmse = err / Math.Max(norm, 1e-30);
        if (finiteExpected != finiteActual || !(nmse <= Bound))
            throw new CheckpointFormatException(file.Path,
                $"the graph does not compute the model its metadata and initializers describe: on {step} its logits differ from the managed engine's by a normalized MSE of {nmse:g3} (bound {Bound:g1})");
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float x in values) if (!float.IsFinite(x)) return false;
        return true;
    }
}
