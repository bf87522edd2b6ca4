using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;

namespace EdgeShortcut.Trainer.Training;

/// <summary>
/// Loads <c>optimizer.bin</c> (TorchSharp's AdamW <c>save_state_dict</c> stream) into an optimizer as
/// hostile input. TorchSharp's reader trusts the stream, so the file is first compared with what this
/// optimizer itself writes: the same model and settings give a stream of exactly the same length
/// (shapes and counts are the same; only values differ). A file of any other length, or one the
/// reader rejects, is a <see cref="CheckpointFormatException"/> naming the file.
/// </summary>
internal static class OptimizerStateFile
{
    /// <summary>Loads <paramref name="path"/> into <paramref name="optimizer"/>, then checks that the settings it
    /// carries are the run's (betas, epsilon, weight decay per group: a resume keeps the run's settings, so a
    /// different value is damage) and that every moment is finite (the second moment non-negative).</summary>
    public static void LoadInto(string path, OptimizerHelper optimizer)
    {
        var settings = Groups(optimizer).Select(o => (o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad, o.maximize)).ToList();
        if (!File.Exists(path)) throw new CheckpointFormatException(path, "optimizer state not found");
        long expected = SerializedLength(optimizer);
        long actual = new FileInfo(path).Length;
        if (actual != expected)
            throw new CheckpointFormatException(path, $"has {actual} bytes; the AdamW state of this model and its settings has {expected} (truncated, or written for another model)");
        try
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            optimizer.load_state_dict(reader);
            if (reader.BaseStream.Position != actual) throw new InvalidDataException($"the reader stopped at byte {reader.BaseStream.Position} of {actual}");
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException or
                                      OverflowException or FormatException or IndexOutOfRangeException or OutOfMemoryException or ExternalException)
        {
            throw new CheckpointFormatException(path, $"not a readable AdamW state: {e.Message}", e);
        }
        var groups = Groups(optimizer);
        for (int i = 0; i < groups.Count; i++)
        {
            var o = groups[i];
            if ((o.beta1, o.beta2, o.eps, o.weight_decay, o.amsgrad, o.maximize) != settings[i])
                throw new CheckpointFormatException(path, $"parameter group {i} holds betas ({o.beta1}, {o.beta2}), eps {o.eps}, weight decay {o.weight_decay}, " +
                    $"amsgrad {o.amsgrad}, maximize {o.maximize}; the run's settings are {settings[i]}");
            if (!IsRate(o.LearningRate) || !IsRate(o.InitialLearningRate))
                throw new CheckpointFormatException(path, $"parameter group {i} holds learning rate {o.LearningRate} (initial {o.InitialLearningRate})");
        }
        foreach (var state in optimizer.state_dict().State.OfType<AdamW.State>())
        {
            if (state.step < 0) throw new CheckpointFormatException(path, $"an AdamW state has step {state.step}");
            using var scope = TorchSharp.torch.NewDisposeScope();
            bool finite = state.exp_avg.isfinite().all().item<bool>() && state.exp_avg_sq.isfinite().all().item<bool>();
            using var zero = 0.0.ToScalar();
            if (!finite || !state.exp_avg_sq.ge(zero).all().item<bool>())
                throw new CheckpointFormatException(path, "an AdamW moment holds a non-finite value (or a negative second moment)");
        }
    }

    private static bool IsRate(double? value) => value is double v && v >= 0 && double.IsFinite(v);

    private static List<AdamW.Options> Groups(OptimizerHelper optimizer) =>
        optimizer.ParamGroups.Select(g => g is AdamW.ParamGroup p ? p.Options
            : throw new ArgumentException("optimizer.bin is loaded into the trainer's AdamW only.", nameof(optimizer))).ToList();

    private static long SerializedLength(OptimizerHelper optimizer)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
        return buffer.Length;
    }
}
