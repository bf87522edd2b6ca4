using System.Text.Json;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary><c>depth-map</c>: writes <c>depth-map.json</c> and <c>depth-map.png</c> for a given text
/// (<see cref="DepthMap"/>, <see cref="DepthMapPlot"/>), each atomically.</summary>
internal static class DepthMapCommand
{
    public static int Run(string modelPath, string? text, string outDir, string? depth, ActivationPrecision activations, CancellationToken ct)
    {
        var policy = CliDepth.Parse(depth);
        if (policy.Kind == DepthPolicyKind.SelfSpeculative)
            throw new CliUsageException($"{CliDepth.Flag} {policy}: a depth map shows one model step per token, and self-speculation's tokens all come from the full model (use --depth full)");
        if (string.IsNullOrEmpty(text)) throw new CliUsageException("--text: give the text to map");
        // Depth reports come from the managed engine, whatever the policy.
        using var model = EdgeModel.Load(modelPath, new EdgeModelOptions { Backend = BackendKind.Managed, Activations = activations });
        var config = model.Config;
        if (!config.IsShortcut) throw new CliException($"{Path.GetFileName(modelPath)} is a plain GPT (no tapped layers): a depth map needs a shortcut model");
        CliDepth.Validate(policy, config);
        int[] tokens = model.Tokenizer.Encode(text);
        if (tokens.Length > config.ContextLength)
            throw new CliUsageException($"--text: {tokens.Length} tokens, more than the model's context of {config.ContextLength} (n_ctx); shorten the text");

        var entries = DepthMap.Compute(model, tokens, policy, ct);
        Directory.CreateDirectory(outDir);
        string name = Path.GetFileNameWithoutExtension(modelPath);
        string jsonPath = Path.Combine(outDir, "depth-map.json"), pngPath = Path.Combine(outDir, "depth-map.png");
        AtomicFile.WriteAllBytes(jsonPath, JsonSerializer.SerializeToUtf8Bytes(new
        {
            model = modelPath,
            depth = policy.ToString(),
            text,
            layers = config.Layers,
            taps = config.Taps,
            exit_depths = config.ExitDepths,
            tokens = entries.Select(e => new { token = e.Token, text = e.Text, exit_depth = e.ExitDepth, tap_attention = e.TapAttention }),
        }, new JsonSerializerOptions { WriteIndented = true }));
        AtomicFile.WriteAllBytes(pngPath, DepthMapPlot.Png(entries, config.Taps, $"{name}: attention mass per tapped layer (--depth {policy})"));

        double mean = entries.Average(e => e.ExitDepth);
        Console.WriteLine($"{tokens.Length} tokens, mean exit depth {mean:F2} of {config.Layers - 1}; " +
            $"mean attention mass per tap: {string.Join(", ", config.Taps.Select((t, j) => $"layer {t} {entries.Average(e => e.TapAttention[j]):F3}"))}");
        Console.WriteLine($"wrote {jsonPath}");
        Console.WriteLine($"wrote {pngPath}");
        return 0;
    }
}
