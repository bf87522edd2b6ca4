using System.Diagnostics;
using System.Text.Json;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// Load time and resident memory of one backend loading one model, each in a fresh child process
/// (<c>ManagedBench load ...</c>), so the numbers are what an app sees: a cold load (file read, packing,
/// JIT, ONNX Runtime's session) and the process's whole RSS after a full GC with just that model loaded.
/// </summary>
internal static class LoadProbe
{
    /// <summary>What the child measured.</summary>
    /// <param name="LoadMs">Wall time of the load.</param>
    /// <param name="RssBytes">Process RSS after the load and a full GC.</param>
    /// <param name="RssBeforeBytes">Process RSS after a full GC just before the load (the runtime alone).</param>
    public sealed record Result(double LoadMs, long RssBytes, long RssBeforeBytes);

    /// <summary>The child's side: loads, measures, prints one JSON line.</summary>
    public static void RunChild(string path, bool managed, ActivationPrecision activations, int threads)
    {
        var file = ModelFile.Read(path);
        if (!managed) Runtime.Onnx.OnnxRuntimeBackend.AvailableProviders();   // the native library's own cost is not the model's
        long before = ResidentMemory.BytesAfterFullGc();
        long t0 = Stopwatch.GetTimestamp();
        using var contender = SweepContender.Open(file, managed, activations, threads);
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        long after = ResidentMemory.BytesAfterFullGc();
        GC.KeepAlive(contender);
        Console.WriteLine(JsonSerializer.Serialize(new Result(ms, after, before)));
    }

    /// <summary>Runs the child for one contender and returns what it printed.</summary>
    public static Result Measure(string path, bool managed, ActivationPrecision activations, int threads)
    {
        string self = typeof(LoadProbe).Assembly.Location;
        string host = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") psi.ArgumentList.Add(self);
        foreach (var a in new[] { "load", "--model", path, "--backend", managed ? "managed" : "cpu", "--activations", activations.ToString(), "--threads", threads.ToString() })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"load probe failed ({p.ExitCode}): {stderr}");
        return JsonSerializer.Deserialize<Result>(stdout.Trim().Split('\n')[^1])!;
    }
}
