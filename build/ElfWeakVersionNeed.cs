// MSBuild inline task (RoslynCodeTaskFactory, Type="Class"; compiled against netstandard2.0): marks one version-need entry of an
// ELF64 shared library as weak (VER_FLG_WEAK in .gnu.version_r).
//
// Why: TorchSharp 0.107.0's libLibTorchSharp.so declares a need for GLIBCXX_3.4.32 (GCC 13), but
// Debian 12's libstdc++ stops at 3.4.30, so dlopen fails and TorchSharp reports a misleading
// "missing libtorch package" error. The only symbol bound to that version is
// _ZSt21ios_base_library_initv, which nothing relocates, so a weak need is safe: the loader then
// accepts a libstdc++ without that version (see /work/shared/STACK.md).
//
// Runs only where needed: skipped when the system libstdc++ already provides the version, and a
// no-op when the entry is already weak (idempotent). Any parse surprise is an error naming the file.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class ElfWeakVersionNeed : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>The copied shared libraries to patch (missing files are ignored).</summary>
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>The version name whose need becomes weak, e.g. GLIBCXX_3.4.32.</summary>
    [Required] public string VersionName { get; set; } = "";

    /// <summary>Semicolon-separated system libraries that, if one contains the version, make the patch unnecessary.</summary>
    public string SystemLibraries { get; set; } = "";

    public override bool Execute()
    {
        foreach (string lib in SystemLibraries.Split(new[] { ';' }, StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(lib) && Contains(File.ReadAllBytes(lib), Encoding.ASCII.GetBytes(VersionName + "\0")))
            {
                Log.LogMessage(MessageImportance.Low, $"{lib} provides {VersionName}: no ELF patch needed.");
                return true;
            }
        }
        foreach (var item in Files)
        {
            string path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            try
            {
                string result = Patch(path);
                Log.LogMessage(MessageImportance.Normal, $"{path}: {result}");
            }
            catch (Exception e) when (e is InvalidDataException or IOException or ArgumentOutOfRangeException)
            {
                Log.LogError($"Cannot mark {VersionName} weak in {path}: {e.Message}");
            }
        }
        return !Log.HasLoggedErrors;
    }

    private string Patch(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("only little-endian ELF64 is supported");

        long shoff = (long)BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A), shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            long sh = shoff + (long)s * shentsize;
            if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            uint link = BitConverter.ToUInt32(elf, (int)sh + 0x28), count = BitConverter.ToUInt32(elf, (int)sh + 0x2C);
            long strtab = (long)BitConverter.ToUInt64(elf, (int)(shoff + link * shentsize + 0x18));

            // Elf64_Verneed {u16 version, u16 cnt, u32 file, u32 aux, u32 next}
            // Elf64_Vernaux {u32 hash, u16 flags, u16 other, u32 name, u32 next}
            long need = offset;
            for (uint n = 0; n < count; n++)
            {
                int cnt = BitConverter.ToUInt16(elf, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < cnt; a++)
                {
                    string name = ReadCString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8));
                    if (name == VersionName)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                        if ((flags & VerFlgWeak) != 0) return $"{VersionName} already weak";
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, aux + 4);
                        // Write beside and rename, so an interrupted build never leaves a torn library.
                        // Keep the timestamp so MSBuild's incremental copy does not see a changed file.
                        DateTime stamp = File.GetLastWriteTimeUtc(path);
                        string temp = path + ".weakpatch.tmp";
                        File.WriteAllBytes(temp, elf);
                        File.SetLastWriteTimeUtc(temp, stamp);
                        File.Replace(temp, path, null);   // rename(2) over the target
                        return $"marked {VersionName} weak";
                    }
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                need += BitConverter.ToUInt32(elf, (int)need + 12);
            }
            return $"no need entry for {VersionName}";
        }
        return "no .gnu.version_r section";
    }

    private static string ReadCString(byte[] data, long at)
    {
        int end = (int)at;
        while (end < data.Length && data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, (int)at, end - (int)at);
    }

    // The task compiles against netstandard2.0 (no Span search), so this is a plain scan.
    private static bool Contains(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }
}
