namespace EdgeShortcut.Tests.Support;

/// <summary>Where the repository is, for tests that read its docs and models.</summary>
internal static class RepoPaths
{
    /// <summary>The directory holding EdgeShortcut.sln, found by walking up from the test binary.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EdgeShortcut.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No EdgeShortcut.sln above {AppContext.BaseDirectory}");
    }
}
