using EdgeShortcut.Tests.Support;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Onnx;

namespace EdgeShortcut.Tests.Runtime;

/// <summary>The shipped default model (models/default.onnx): it loads from its own metadata, and the
/// managed engine and the ONNX Runtime CPU provider agree on it: logits within the int8 NMSE bound
/// at every step of a prompt plus 64 greedy decode steps, and, with the default float32 activations, the
/// same 200-token greedy continuation.</summary>
public sealed class DefaultModelTests
{
    private static string DefaultModel => Path.Combine(RepoPaths.Root(), "models", "default.onnx");

    [Fact]
    public void Default_model_is_a_byte_level_shortcut_gpt_under_10_MB()
    {
        Assert.True(new FileInfo(DefaultModel).Length < 10_000_000);
        using var model = EdgeModel.Load(DefaultModel, new EdgeModelOptions { Backend = BackendKind.Managed });
        Assert.True(model.Config.IsShortcut);
        Assert.Equal(256, model.Config.VocabSize);
    }

    /// <summary>Float32 activations: both engines compute the same function, so only float rounding differs
    /// (measured ~3e-14). Int8 activations: both quantize in blocks of 32, but an activation within float
    /// noise of a rounding boundary can round differently (measured up to ~1e-4).</summary>
    [Theory]
    [InlineData(ActivationPrecision.Float32, 1e-9)]
    [InlineData(ActivationPrecision.Int8, 1e-3)]
    public void Managed_and_ORT_CPU_logits_agree_on_the_default_model(ActivationPrecision activations, double bound)
    {
        using var ort = new OnnxRuntimeBackend(ModelFile.Read(DefaultModel), BackendKind.Cpu, new EdgeModelOptions { Activations = activations });
        using var managed = ManagedBackend.Load(ModelFile.Read(DefaultModel), activations);
        using var a = ort.CreateSequence();
        using var b = managed.CreateSequence();
        int[] prompt = EdgeShortcut.Core.ByteTokenizer.Encode("ROMEO:\nWhat light through yonder window breaks?\n");
        double worst = OnnxRuntimeBackendTests.Nmse(a.Append(prompt), b.Append(prompt));
        int token = 'J';
        for (int step = 0; step < 64; step++)
        {
            var la = a.Append([token]);
            worst = Math.Max(worst, OnnxRuntimeBackendTests.Nmse(la, b.Append([token])));
            token = Argmax(la);
        }
        Assert.True(worst < bound, $"worst normalized MSE {worst:g3}");
    }

    [Theory]
    [InlineData("ROMEO:")]
    [InlineData("First Citizen:\nBefore we proceed any further")]
    [InlineData("KING RICHARD III:\n")]
    public void Managed_and_ORT_CPU_give_the_same_200_token_greedy_continuation(string prompt)
    {
        Assert.Equal(Greedy(BackendKind.Cpu, prompt, 200), Greedy(BackendKind.Managed, prompt, 200));
    }

    private static string Greedy(BackendKind backend, string prompt, int tokens)
    {
        using IInferenceBackend engine = backend == BackendKind.Managed
            ? ManagedBackend.Load(ModelFile.Read(DefaultModel))
            : new OnnxRuntimeBackend(ModelFile.Read(DefaultModel), BackendKind.Cpu, new EdgeModelOptions());
        using var sequence = engine.CreateSequence();
        var ids = new List<int>();
        int next = Argmax(sequence.Append(EdgeShortcut.Core.ByteTokenizer.Encode(prompt)));
        for (int i = 0; i < tokens; i++)
        {
            ids.Add(next);
            if (i + 1 < tokens) next = Argmax(sequence.Append([next]));
        }
        // Bytes as Latin-1 so any byte sequence shows (and compares) one character per token.
        return new string([.. ids.Select(t => (char)t)]);
    }

    private static int Argmax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
