using System.CommandLine;
using System.Globalization;
using EdgeShortcut.Core;
using EdgeShortcut.Fuzz;

// EdgeShortcut fuzzer (issue 12): seeded structured mutations of every loader. Prints the count of
// each outcome per target; exits 1 on any finding (an untyped exception, a case over 5 s, an
// oversized allocation), with each finding's input saved under --save; 2 on a usage error.
var target = new Option<string>("--target") { Description = $"all, or one of: {string.Join(", ", FuzzTargets.Names)}", DefaultValueFactory = _ => "all" };
var cases = new Option<int>("--cases") { Description = "mutated inputs per target", DefaultValueFactory = _ => 10_000 };
var seed = new Option<int>("--seed") { Description = "seed of the mutation stream (same seed, same cases)", DefaultValueFactory = _ => 1 };
var save = new Option<string>("--save") { Description = "directory for the inputs of findings (TARGET/seed-S-case-N.bin)", DefaultValueFactory = _ => "fuzz-findings" };
var replay = new Option<string?>("--replay") { Description = "instead of mutating, run every file under DIR/TARGET/ (saved reproducers)" };
var writeSeeds = new Option<string?>("--write-seeds") { Description = "write each target's valid seed inputs to DIR/TARGET/seed-N.bin (to hand-craft reproducers) and exit" };
var root = new RootCommand("Fuzz every EdgeShortcut loader with seeded structured mutations.") { target, cases, seed, save, replay, writeSeeds };
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var e in parsed.Errors) Console.Error.WriteLine($"error: {e.Message}");
    return CliExitCodes.Usage;
}
string which = parsed.GetValue(target)!;
int count = parsed.GetValue(cases);
if (count < 1) { Console.Error.WriteLine("error: --cases must be >= 1."); return CliExitCodes.Usage; }
if (which != "all" && !FuzzTargets.Names.Contains(which)) { Console.Error.WriteLine($"error: --target: unknown target '{which}' (use all or one of {string.Join(", ", FuzzTargets.Names)})."); return CliExitCodes.Usage; }

if (parsed.GetValue(writeSeeds) is { } seedDir)
{
    foreach (string name in which == "all" ? FuzzTargets.Names : [which])
    {
        using var t = FuzzTargets.Create(name);
        Directory.CreateDirectory(Path.Combine(seedDir, name));
        for (int i = 0; i < t.Seeds.Count; i++) File.WriteAllBytes(Path.Combine(seedDir, name, $"seed-{i}.bin"), t.Seeds[i]);
    }
    return CliExitCodes.Ok;
}

string scratch = Directory.CreateTempSubdirectory("es-fuzz-").FullName;
int findings = 0;
try
{
    foreach (string name in which == "all" ? FuzzTargets.Names : [which])
    {
        using var t = FuzzTargets.Create(name);
        // Warm-up, not counted: the first load pays for native libraries and JIT, which under load can
        // exceed the 5-second hang limit on its own.
        FuzzRunner.Replay(t, t.Seeds, scratch);
        // Each input is written here before it runs: a native crash (no handler survives one) leaves it behind.
        string inProgress = Path.Combine(parsed.GetValue(save)!, name, "crash-candidate.bin");
        Directory.CreateDirectory(Path.GetDirectoryName(inProgress)!);
        void Keep(int index, byte[] input)
        {
            File.WriteAllBytes(inProgress, input);
        }
        var report = parsed.GetValue(replay) is { } dir
            ? FuzzRunner.Replay(t, Directory.Exists(Path.Combine(dir, name)) ? Directory.GetFiles(Path.Combine(dir, name)).Order().Select(File.ReadAllBytes) : [], scratch, beforeCase: Keep)
            : FuzzRunner.Run(t, count, parsed.GetValue(seed), scratch, beforeCase: Keep);
        File.Delete(inProgress);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{report.Target,-15} {report.Cases,9:N0} cases {report.Elapsed.TotalSeconds,8:F1} s  findings {report.Findings.Count}  | {string.Join("  ", report.Outcomes.Select(o => $"{o.Key} {o.Value}"))}"));
        foreach (var f in report.Findings)
        {
            string file = Path.Combine(parsed.GetValue(save)!, name, $"seed-{parsed.GetValue(seed)}-case-{f.Case}.bin");
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllBytes(file, f.Input);
            Console.WriteLine($"  FINDING {f.Kind} at case {f.Case} (saved {file}): {f.Detail.Split('\n')[0]}");
        }
        findings += report.Findings.Count;
    }
}
finally { Directory.Delete(scratch, recursive: true); }
return findings == 0 ? CliExitCodes.Ok : CliExitCodes.Runtime;
