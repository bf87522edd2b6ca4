using System.Diagnostics;
using System.Text.RegularExpressions;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Python;

/// <summary>
/// Runs the PyTorch trainer's entry points (python/train.py, eval.py, launch.py = torchrun) and pytest
/// with Debian's <c>/usr/bin/python3</c>, one torch thread per process, as a user would. A missing
/// interpreter or package is a test failure, not a skip: CI installs python3-torch and python3-pytest.
/// </summary>
internal static class PythonTools
{
    /// <summary>The interpreter that sees Debian's python3-torch (not the python3 first on PATH).</summary>
    public const string Interpreter = PythonOnnx.Interpreter;

    /// <summary>The repository's python/ directory.</summary>
    public static string Dir => Path.Combine(RepoPaths.Root(), "python");

    /// <summary>Result of one run.</summary>
    public sealed record Result(int Code, string Out, string Err)
    {
        /// <summary>Throws with both streams unless the exit code is 0.</summary>
        public Result Ok() => Code == 0 ? this : throw new InvalidOperationException($"exit {Code}\nstdout:\n{Out}\nstderr:\n{Err}");
    }

    /// <summary>python3 python/train.py ARGS (one process).</summary>
    public static Result Train(params string[] args) => Run([Path.Combine(Dir, "train.py"), .. args]);

    /// <summary>python3 python/eval.py ARGS.</summary>
    public static Result Eval(params string[] args) => Run([Path.Combine(Dir, "eval.py"), .. args]);

    /// <summary>torchrun --standalone --nproc_per_node N python/train.py ARGS (through python/launch.py, torchrun
    /// with the Python 3.11 fix Debian's torch 1.13 needs).</summary>
    public static Result Torchrun(int processes, params string[] args) =>
        Run([Path.Combine(Dir, "launch.py"), "--standalone", "--nproc_per_node", processes.ToString(), "--monitor_interval", "1",
            Path.Combine(Dir, "train.py"), .. args], TimeSpan.FromMinutes(4));

    /// <summary>Runs the interpreter with <paramref name="args"/>; kills the process tree after <paramref name="timeout"/>
    /// (default 3 minutes) and reports that as a failure, so a hang fails the test instead of the CI job.</summary>
    public static Result Run(string[] args, TimeSpan? timeout = null)
    {
        if (!File.Exists(Interpreter))
            throw new InvalidOperationException($"{Interpreter} not found: apt-get install -y python3-torch python3-pytest");
        var psi = new ProcessStartInfo(Interpreter) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["OMP_NUM_THREADS"] = "1";
        psi.Environment["PYTHONUNBUFFERED"] = "1";
        psi.Environment.Remove("WORLD_SIZE");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{string.Join(' ', args)} did not finish in time:\n{stdout.Result}\n{stderr.Result}");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Rank 0's per-step losses ("step S/N loss X" lines) by step.</summary>
    public static Dictionary<int, double> Losses(string stdout) =>
        Regex.Matches(stdout, @"^step (\d+)/\d+ loss (\S+)", RegexOptions.Multiline)
            .ToDictionary(m => int.Parse(m.Groups[1].Value), m => double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
}
