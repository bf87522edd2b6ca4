using System.Text.Json;
using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Training;

/// <summary>
/// A full training checkpoint directory: the model files (<see cref="ModelCheckpoint"/>) plus
/// <c>optimizer.bin</c> (TorchSharp AdamW state) and <c>training_state.json</c>.
/// The directory is written as a whole: everything goes into a hidden temp directory beside the
/// target, then the old directory is renamed aside, the new one renamed in, and the old one deleted.
/// A kill at any moment leaves either the previous checkpoint (possibly under <c>.NAME.old</c>,
/// which <see cref="Recover"/> puts back) or the new one, never a mix.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>AdamW state file name.</summary>
    public const string OptimizerFile = "optimizer.bin";
    /// <summary>Training state file name.</summary>
    public const string StateFile = "training_state.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes a checkpoint to <paramref name="directory"/> atomically (see the type remarks).</summary>
    public static void Save(string directory, ShortcutGpt model, TorchSharp.Modules.OptimizerHelper optimizer, TokenizerSpec tokenizer, TrainingState state)
    {
        string full = Path.GetFullPath(directory);
        string parent = Path.GetDirectoryName(full)!, name = Path.GetFileName(full);
        Directory.CreateDirectory(parent);
        string temp = Path.Combine(parent, $".{name}.tmp-{Guid.NewGuid():N}");
        try
        {
            ModelCheckpoint.Save(temp, model, tokenizer);
            AtomicFile.Write(Path.Combine(temp, OptimizerFile), s =>
            {
                using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
                optimizer.save_state_dict(w);
            });
            AtomicFile.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(state, Json));
            Commit(temp, full);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    /// <summary>Reads training_state.json of a checkpoint directory.</summary>
    public static TrainingState ReadState(string directory)
    {
        Recover(directory);
        string path = Path.Combine(directory, StateFile);
        if (!File.Exists(path)) throw new CheckpointFormatException(path, "training_state.json not found: not a resumable training checkpoint");
        try { return JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(path), Json) ?? throw new JsonException("null"); }
        catch (JsonException e) { throw new CheckpointFormatException(path, $"not valid JSON: {e.Message}", e); }
    }

    /// <summary>Loads weights into <paramref name="model"/> and the AdamW state into <paramref name="optimizer"/>.</summary>
    public static void LoadInto(string directory, ShortcutGpt model, TorchSharp.Modules.OptimizerHelper optimizer)
    {
        Recover(directory);
        var (config, tensors) = Checkpoint.Load(directory);
        if (!config.Model.Equals(model.Config))
            throw new CheckpointFormatException(Path.Combine(directory, Checkpoint.ConfigFile), "model config differs from the run's options");
        ModelWeights.Import(model, tensors);
        string opt = Path.Combine(directory, OptimizerFile);
        if (!File.Exists(opt)) throw new CheckpointFormatException(opt, "optimizer state not found");
        using var reader = new BinaryReader(File.OpenRead(opt));
        optimizer.load_state_dict(reader);
    }

    /// <summary>If a kill struck between the two renames of a commit, the previous checkpoint sits at
    /// <c>.NAME.old</c>: move it back. A no-op otherwise.</summary>
    public static void Recover(string directory)
    {
        string full = Path.GetFullPath(directory);
        string old = OldPath(full);
        if (!Directory.Exists(full) && Directory.Exists(old)) Directory.Move(old, full);
    }

    private static void Commit(string temp, string target)
    {
        string old = OldPath(target);
        if (Directory.Exists(old))
        {
            if (Directory.Exists(target)) Directory.Delete(old, recursive: true);   // stale leftover of a finished commit
            else Directory.Move(old, target);                                        // recover before replacing
        }
        if (Directory.Exists(target)) Directory.Move(target, old);
        Directory.Move(temp, target);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }

    private static string OldPath(string full) => Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.old");

    /// <summary>Torch's CPU generator state as base64 (drives dropout).</summary>
    public static string SaveRng()
    {
        using var state = torch.get_rng_state();
        return Convert.ToBase64String(state.data<byte>().ToArray());
    }

    /// <summary>Restores the generator state written by <see cref="SaveRng"/>.</summary>
    public static void RestoreRng(string base64)
    {
        byte[] bytes = Convert.FromBase64String(base64);
        using var state = torch.tensor(bytes, dtype: ScalarType.Byte);
        torch.set_rng_state(state);
    }
}
