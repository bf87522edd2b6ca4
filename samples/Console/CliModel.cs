using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>Finds and opens the model named on the command line (or the default one beside the executable).</summary>
internal static class CliModel
{
    /// <summary>Where the csproj copies models/default.onnx.</summary>
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "models", "default.onnx");

    /// <summary>The model path to use; a missing file is a <see cref="CliException"/> with a hint.</summary>
    public static string ResolvePath(string? path)
    {
        if (path is not null)
            return File.Exists(path) ? path : throw new CliException($"model file not found: {path}");
        if (File.Exists(DefaultPath)) return DefaultPath;
        throw new CliException($"no model given and the default model is missing ({DefaultPath}).\n" +
            "Pass --model PATH, or put the default model at models/default.onnx in the repository and rebuild.");
    }

    /// <summary>Loads the model on the requested backend.</summary>
    public static EdgeModel Load(string? path, EdgeModelOptions options) => EdgeModel.Load(ResolvePath(path), options);
}
