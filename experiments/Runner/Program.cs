using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using EdgeShortcut;
using EdgeShortcut.Core;
using EdgeShortcut.Experiments;
using EdgeShortcut.Trainer.Data;

// EdgeShortcut experiments: run a sweep from a spec file, (re)write its report, or list arm sizes.
var spec = new Option<string>("--spec") { Description = "Sweep description (experiments/*.json).", Required = true };
var outDir = new Option<string>("--out") { Description = "Sweep directory: data/, runs/ARM/seed-S/, report/.", Required = true };
var threads = new Option<int>("--threads") { Description = "Torch threads per run.", DefaultValueFactory = _ => 1 };

var run = new Command("run", "Train every arm x seed (finished runs are skipped, unfinished ones resume; start it in N processes to use N workers), then write the report.") { spec, outDir, threads };
run.SetAction(r =>
{
    var s = ExperimentSpec.Load(r.GetValue(spec)!);
    var runner = new SweepRunner(s, r.GetValue(outDir)!, r.GetValue(threads));
    using var cts = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
    using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
    var outcomes = runner.Run(
        (p, t) =>
        {
            if (t.IsEval) Log($"{p.Arm.Name} seed {p.Seed}: step {t.Step}/{t.TotalSteps} val {t.Validation!.MeanNll:F4} best {t.BestValNll:F4} {t.TokensPerSecond:F0} tok/s ETA {t.Eta:hh\\:mm\\:ss}");
        },
        o =>
        {
            Log($"{o.Run.Arm.Name} seed {o.Run.Seed}: {o.Action}{(o.Finished || o.Action == RunAction.Busy ? "" : " (interrupted; resumes next time)")}");
            SweepReport.Write(s, runner.Plan(), runner.OutDir);
        },
        cts.Token);
    var arms = SweepReport.Write(s, runner.Plan(), runner.OutDir);
    Log($"report: {Path.Combine(runner.OutDir, "report", "summary.md")} ({arms.Count} arms with finished runs)");
    return outcomes.All(o => o.Finished || o.Action == RunAction.Busy) ? 0 : 3;
});

var report = new Command("report", "Rewrite OUT/report/ from the run directories (no training).") { spec, outDir };
report.SetAction(r =>
{
    var s = ExperimentSpec.Load(r.GetValue(spec)!);
    var runner = new SweepRunner(s, r.GetValue(outDir)!);
    SweepReport.Write(s, runner.Plan(), runner.OutDir);
    Console.Write(File.ReadAllText(Path.Combine(runner.OutDir, "report", "summary.md")));
    return 0;
});

var sizes = new Command("params", "Print each arm's parameter count and its ratio to the first arm (to match baselines).") { spec };
sizes.SetAction(r =>
{
    var s = ExperimentSpec.Load(r.GetValue(spec)!);
    var counts = s.Arms.Select(a => (a.Name, Count: TensorNames.ParameterCount(s.Options(a, s.Seeds[0], "x", "x.txt", null).ModelConfig()))).ToList();
    foreach (var (name, count) in counts)
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-16} {count,10:N0}  {(double)count / counts[0].Count - 1:+0.0%;-0.0%;0.0%} vs {counts[0].Name}"));
    return 0;
});

var root = new RootCommand("EdgeShortcut experiments: sweeps of trainer runs, a results table and a loss-curve plot.") { run, report, sizes };
// Exit codes of every tool (CliExitCodes): 2 usage (a command line that does not parse, a bad flag value),
// 1 runtime (a bad spec, corpus or checkpoint file, a diverged run); 3 = some runs are unfinished.
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var e in parsed.Errors) Console.Error.WriteLine($"error: {e.Message}");
    return CliExitCodes.Usage;
}
try
{
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {CliExitCodes.WithoutParameterSuffix(e.Message)}");
    return CliExitCodes.Usage;
}
catch (Exception e) when (e is SpecException or CorpusException or CheckpointFormatException or NonFiniteValueException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return CliExitCodes.Runtime;
}

static void Log(string line) => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} {line}");
