using System.Diagnostics;

namespace EdgeShortcut.Tests.Support;

/// <summary>
/// Runs a Python snippet with Debian's <c>/usr/bin/python3</c>, the interpreter that sees
/// <c>python3-onnx</c> (onnx 1.12), the independent checker of the files we write. A missing
/// interpreter or module is a test failure, not a skip: CI installs python3-onnx.
/// </summary>
public static class PythonOnnx
{
    /// <summary>The interpreter path (not the python3 first on PATH, which lacks Debian's packages).</summary>
    public const string Interpreter = "/usr/bin/python3";

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/> (sys.argv[1..]); returns stdout.
    /// Throws with stderr when the exit code is not 0.</summary>
    public static string Run(string script, params string[] args)
    {
        if (!File.Exists(Interpreter))
            throw new InvalidOperationException($"{Interpreter} not found: install Debian's python3 and python3-onnx (apt-get install -y python3-onnx).");
        var psi = new ProcessStartInfo(Interpreter) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            string hint = stderr.Contains("No module named 'onnx'") ? " (install it: apt-get install -y python3-onnx)" : "";
            throw new InvalidOperationException($"python exited with {p.ExitCode}{hint}:\n{stderr}");
        }
        return stdout.Result;
    }

    /// <summary>Runs <c>onnx.checker.check_model(m, full_check=True)</c> on a file; throws on any complaint.</summary>
    public static void Check(string path) => Run("""
        import sys, onnx
        m = onnx.load(sys.argv[1])
        onnx.checker.check_model(m, full_check=True)
        print("ok")
        """, path);
}
