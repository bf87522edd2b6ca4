namespace EdgeShortcut;

/// <summary>A checkpoint or model file is missing, truncated, corrupt, of an unknown version, or
/// does not match its config. The message names the file and the problem.</summary>
public sealed class CheckpointFormatException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public CheckpointFormatException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner) => FilePath = path;

    /// <summary>The offending file or directory.</summary>
    public string FilePath { get; }
}
