namespace EdgeShortcut.Trainer.Data;

/// <summary>A corpus file that cannot be used for training or evaluation: missing, empty, malformed,
/// or shorter than one context window. The message names the file and the problem.</summary>
public sealed class CorpusException : Exception
{
    /// <summary>The offending file.</summary>
    public string Path { get; }

    /// <summary>Creates the exception for <paramref name="path"/>.</summary>
    public CorpusException(string path, string message) : base($"{path}: {message}") => (Path, Problem) = (path, message);

    /// <summary>What is wrong, without the path.</summary>
    public string Problem { get; }
}
