using System.Runtime.InteropServices;
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
    /// <summary>Loads <paramref name="path"/> into <paramref name="optimizer"/>.</summary>
    public static void LoadInto(string path, OptimizerHelper optimizer)
    {
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
    }

    private static long SerializedLength(OptimizerHelper optimizer)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
        return buffer.Length;
    }
}
