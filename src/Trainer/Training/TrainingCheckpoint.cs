using System.Text.Json;
using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Training;

/// <summary>
/// A full training checkpoint directory: the model files (<see cref="ModelCheckpoint"/>) plus
/// <c>optimizer.bin</c> (TorchSharp AdamW state) and <c>training_state.json</c>.
/// The directory is written as a whole through Core's <see cref="CheckpointDirectory"/> (temp directory,
/// two renames; readers recover an interrupted commit), so a kill leaves the previous checkpoint or the
/// new one, never a mix.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>AdamW state file name.</summary>
    public const string OptimizerFile = "optimizer.bin";
    /// <summary>Training state file name.</summary>
    public const string StateFile = "training_state.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes a checkpoint to <paramref name="directory"/> atomically (Core's <see cref="CheckpointDirectory"/>).
    /// A model with a non-finite weight is refused (<see cref="NonFiniteValueException"/>) and the previous
    /// checkpoint stays.</summary>
    public static void Save(string directory, ShortcutGpt model, TorchSharp.Modules.OptimizerHelper optimizer, TokenizerSpec tokenizer, TrainingState state) =>
        CheckpointDirectory.Save(directory, temp =>
        {
            ModelCheckpoint.Save(temp, model, tokenizer);
            AtomicFile.Write(Path.Combine(temp, OptimizerFile), s =>
            {
                using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
                optimizer.save_state_dict(w);
            });
            AtomicFile.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(state, Json));
        });

    /// <summary>Reads and checks training_state.json of a checkpoint directory (after recovering an
    /// interrupted commit): valid JSON, valid options, sane counters and a torch RNG state that libtorch
    /// will accept. Every problem is a <see cref="CheckpointFormatException"/> naming the file and key.</summary>
    public static TrainingState ReadState(string directory)
    {
        CheckpointDirectory.Recover(directory);
        string path = Path.Combine(directory, StateFile);
        if (!File.Exists(path)) throw new CheckpointFormatException(path, "training_state.json not found: not a resumable training checkpoint");
        TrainingState state;
        try { state = JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(path), Json) ?? throw new JsonException("null"); }
        catch (JsonException e) { throw new CheckpointFormatException(path, $"not valid JSON: {e.Message}", e); }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or ArgumentException)
        { throw new CheckpointFormatException(path, $"not a training state: {e.Message}", e); }
        TrainingStateCheck.Validate(state, path);
        return state;
    }

    /// <summary>Loads weights into <paramref name="model"/> and the AdamW state into <paramref name="optimizer"/>.
    /// A damaged optimizer.bin is a <see cref="CheckpointFormatException"/> naming it.</summary>
    public static void LoadInto(string directory, ShortcutGpt model, TorchSharp.Modules.OptimizerHelper optimizer)
    {
        var (config, tensors) = Checkpoint.Load(directory);
        if (!config.Model.Equals(model.Config))
            throw new CheckpointFormatException(Path.Combine(directory, Checkpoint.ConfigFile), "model config differs from the run's options");
        ModelWeights.Import(model, tensors);
        OptimizerStateFile.LoadInto(Path.Combine(directory, OptimizerFile), optimizer);
    }

    /// <summary>Torch's CPU generator state as base64 (drives dropout).</summary>
    public static string SaveRng()
    {
        using var state = torch.get_rng_state();
        return Convert.ToBase64String(state.data<byte>().ToArray());
    }

    /// <summary>Restores the generator state written by <see cref="SaveRng"/> (checked by <see cref="ReadState"/>).</summary>
    public static void RestoreRng(string base64)
    {
        byte[] bytes = Convert.FromBase64String(base64);
        if (TorchRngState.Problem(bytes) is { } problem) throw new ArgumentException($"torch_rng_state {problem}", nameof(base64));
        using var state = torch.tensor(bytes, dtype: ScalarType.Byte);
        torch.set_rng_state(state);
    }
}
