using EdgeShortcut.Core;
using TorchSharp;

namespace EdgeShortcut.Trainer.Model;

/// <summary>Loads and saves the model part of a checkpoint directory (<c>config.json</c> +
/// <c>model.safetensors</c>). This is the entry point the quantizer uses for its fp32 reference.</summary>
public static class ModelCheckpoint
{
    /// <summary>Loads a checkpoint directory into an eval-mode <see cref="ShortcutGpt"/> (dropout off).
    /// Throws <see cref="CheckpointFormatException"/> naming the file on a bad config or tensor set.</summary>
    public static ShortcutGpt Load(string directory) => Load(directory, out _);

    /// <summary>As <see cref="Load(string)"/>, also returning the checkpoint config (model + tokenizer).</summary>
    public static ShortcutGpt Load(string directory, out CheckpointConfig config)
    {
        var (cfg, tensors) = Checkpoint.Load(directory);
        config = cfg;
        var model = new ShortcutGpt(cfg.Model);
        ModelWeights.Import(model, tensors);
        model.eval();
        return model;
    }

    /// <summary>Writes config.json and model.safetensors into <paramref name="directory"/> (each atomically).
    /// A non-finite weight is refused with <see cref="NonFiniteValueException"/> naming it, before anything
    /// is written: every reader refuses such a file, so it must never be written.</summary>
    public static void Save(string directory, ShortcutGpt model, TokenizerSpec tokenizer)
    {
        var weights = ModelWeights.Export(model);
        foreach (var t in weights)
            if (Checkpoint.FirstNonFinite(t.Data) is int i)
                throw new NonFiniteValueException($"weight '{t.Name}' holds a non-finite value ({t.Data[i]}) at index {i}: the model diverged, so it is not saved.");
        Directory.CreateDirectory(directory);
        Safetensors.Write(Path.Combine(directory, Checkpoint.WeightsFile), weights,
            new Dictionary<string, string> { ["format"] = "pt" });
        Checkpoint.WriteConfig(directory, new CheckpointConfig { Model = model.Config, Tokenizer = tokenizer });
    }
}
