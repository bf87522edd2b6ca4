namespace EdgeShortcut.Core;

/// <summary>
/// The atomic commit of a whole checkpoint directory and its recovery (docs/FORMAT.md section 2), in
/// one place for every writer and reader. A save writes everything into a hidden <c>.NAME.tmp-*</c>
/// directory beside the target, renames the old <c>NAME</c> to <c>.NAME.old</c>, renames the new one in
/// and deletes <c>.NAME.old</c>. A kill at any moment leaves the previous checkpoint (possibly under
/// <c>.NAME.old</c>) or the new one, never a mix: <see cref="Recover"/>, which every reader calls first,
/// moves a lone <c>.NAME.old</c> back, and the next <see cref="Save"/> removes the temp directories that
/// interrupted saves left. One writer per directory: two processes saving the same checkpoint at once
/// is not supported (each would remove the other's temp directory).
/// </summary>
internal static class CheckpointDirectory
{
    /// <summary>Writes a checkpoint at <paramref name="directory"/>: <paramref name="writeFiles"/> fills a fresh
    /// temp directory (its argument), which then replaces the target atomically. On any exception the temp
    /// directory is removed and the previous checkpoint is untouched.</summary>
    public static void Save(string directory, Action<string> writeFiles)
    {
        string full = Path.GetFullPath(directory);
        string parent = Path.GetDirectoryName(full)!, name = Path.GetFileName(full);
        Directory.CreateDirectory(parent);
        RemoveStaleTemps(parent, name);
        string temp = Path.Combine(parent, $"{TempPrefix(name)}{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            writeFiles(temp);
            Commit(temp, full);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    /// <summary>If a kill struck between the two renames of a commit, the previous checkpoint sits at
    /// <c>.NAME.old</c> and <c>NAME</c> is missing: move it back. A no-op otherwise. Every reader of a
    /// checkpoint directory calls this before looking at it.</summary>
    public static void Recover(string directory)
    {
        string full = Path.GetFullPath(directory);
        string old = OldPath(full);
        if (Directory.Exists(full) || !Directory.Exists(old)) return;
        try { Directory.Move(old, full); }
        catch (IOException) when (Directory.Exists(full)) { /* another reader recovered it first */ }
    }

    private static void Commit(string temp, string target)
    {
        string old = OldPath(target);
        if (Directory.Exists(old))
        {
            if (Directory.Exists(target)) Directory.Delete(old, recursive: true);   // stale leftover of a finished commit
            else Directory.Move(old, target);                                        // recover before replacing
        }
        for (int attempt = 0; ; attempt++)
        {
            if (Directory.Exists(target))
            {
                if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
                Directory.Move(target, old);
            }
            try { Directory.Move(temp, target); break; }
            // A reader's Recover moved .NAME.old back between our two renames: set it aside again.
            catch (IOException) when (attempt < 3 && Directory.Exists(target)) { }
        }
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }

    /// <summary>Removes <c>.NAME.tmp-*</c> directories of interrupted saves of this checkpoint (not of others).</summary>
    private static void RemoveStaleTemps(string parent, string name)
    {
        foreach (string stale in Directory.EnumerateDirectories(parent, $"{TempPrefix(name)}*"))
        {
            try { Directory.Delete(stale, recursive: true); }
            catch (IOException) { /* best effort: a leftover costs disk space, never correctness */ }
            catch (UnauthorizedAccessException) { }
        }
    }

    private static string TempPrefix(string name) => $".{name}.tmp-";

    private static string OldPath(string full) => Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.old");
}
