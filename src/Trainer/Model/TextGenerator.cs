using EdgeShortcut.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Model;

/// <summary>
/// Autoregressive sampling with the fp32 TorchSharp model: the reference that the quantized ONNX
/// model and the runtimes are compared against. Each step recomputes the forward over the last
/// n_ctx tokens (no cache: this path favours obviously-correct over fast).
/// </summary>
public static class TextGenerator
{
    /// <summary>Yields up to <paramref name="maxTokens"/> new ids after <paramref name="prompt"/> (non-empty).
    /// <paramref name="temperature"/> 0 is greedy (argmax); otherwise logits / temperature are sampled,
    /// optionally restricted to the <paramref name="topK"/> most likely ids, from a generator seeded
    /// with <paramref name="seed"/>. Bad arguments throw <see cref="ArgumentException"/> (ParamName = the
    /// argument) before anything runs; logits that overflow throw <see cref="NonFiniteValueException"/>.</summary>
    public static IEnumerable<int> Generate(ShortcutGpt model, IReadOnlyList<int> prompt, int maxTokens, double temperature = 1.0, int topK = 0, long seed = 0)
    {
        if (prompt.Count == 0) throw new ArgumentException("The prompt must hold at least one token.", nameof(prompt));
        if (maxTokens < 0) throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "must be >= 0");
        if (!SamplingLimits.IsValidTemperature(temperature)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, SamplingLimits.TemperatureRule);
        if (topK < 0) throw new ArgumentOutOfRangeException(nameof(topK), topK, "must be >= 0 (0 = all tokens)");
        int v = model.Config.VocabSize;
        foreach (int id in prompt)
            if ((uint)id >= (uint)v) throw new ArgumentOutOfRangeException(nameof(prompt), $"token {id} is outside the vocab 0..{v - 1}");
        return Run(model, prompt, maxTokens, temperature, topK, seed);
    }

    private static IEnumerable<int> Run(ShortcutGpt model, IReadOnlyList<int> prompt, int maxTokens, double temperature, int topK, long seed)
    {
        int v = model.Config.VocabSize, ctx = model.Config.ContextLength;
        model.eval();
        var ids = prompt.ToList();
        using var generator = new Generator((ulong)seed);
        // Held for the whole loop: temporary Scalars may be finalized while libtorch uses them (issue 12, item 11).
        using var temperatureScalar = (temperature == 0 ? 1.0 : temperature).ToScalar();
        using var hiddenScalar = double.NegativeInfinity.ToScalar();
        for (int n = 0; n < maxTokens; n++)
        {
            int next;
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var window = ids.Skip(Math.Max(0, ids.Count - ctx)).Select(i => (long)i).ToArray();
                var logits = model.forward(tensor(window, [1, window.Length]))[0, -1];    // [V]
                if (!logits.isfinite().all().item<bool>())
                    throw new NonFiniteValueException($"The model produced non-finite logits at generated token {n}: its weights overflow on this input (the checkpoint is numerically broken).");
                if (temperature == 0) next = (int)logits.argmax().item<long>();
                else
                {
                    logits = logits / temperatureScalar;
                    if (topK > 0 && topK < v)
                    {
                        var kth = logits.topk(topK).values[-1];
                        logits = logits.masked_fill(logits.lt(kth), hiddenScalar);
                    }
                    next = (int)logits.softmax(0).multinomial(1, generator: generator).item<long>();
                }
            }
            ids.Add(next);
            yield return next;
        }
    }
}
