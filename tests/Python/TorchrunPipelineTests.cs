using System.Diagnostics;
using System.Text.Json;
using EdgeShortcut.Tests.Trainer;
using Xunit.Abstractions;

namespace EdgeShortcut.Tests.Python;

/// <summary>
/// A checkpoint trained by torchrun (2 processes, gloo) is an ordinary checkpoint for the rest of the
/// pipeline: python/eval.py and <c>Trainer eval</c> give the same held-out NLL, <c>src/Quantize
/// --validate</c> keeps the int8 model within the usual bounds, and <c>samples/Console --model</c>
/// generates from the ONNX file.
/// </summary>
[Collection("Torch")]
public class TorchrunPipelineTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Torchrun_checkpoint_evaluates_alike_quantizes_and_generates()
    {
        using var run = new TempRun(8000);
        PythonTools.Torchrun(2, "--data", run.DataPath, "--out", run.OutDir, "--layers", "2", "--dim", "32", "--heads", "2", "--context", "32",
            "--steps", "20", "--batch", "8", "--lr", "3e-3", "--warmup", "2", "--eval-every", "10", "--threads", "1").Ok();
        string last = Path.Combine(run.OutDir, "last");

        // Cross-trainer parity of the held-out NLL (docs/FORMAT.md section 6 windows).
        var py = JsonDocument.Parse(PythonTools.Eval("--checkpoint", last, "--data", run.DataPath, "--json").Ok().Out.TrimEnd().Split('\n')[^1]);
        var (code, csOut, err) = TrainerCliTests.Cli("eval", "--checkpoint", last, "--data", run.DataPath, "--json");
        Assert.True(code == 0, err);
        var cs = JsonDocument.Parse(csOut.TrimEnd().Split('\n')[^1]);
        double pyNll = py.RootElement.GetProperty("val_nll").GetDouble(), csNll = cs.RootElement.GetProperty("val_nll").GetDouble();
        output.WriteLine($"val_nll eval.py {pyNll:R}, Trainer eval {csNll:R}, rel diff {Math.Abs(pyNll - csNll) / csNll:E2}");
        Assert.True(Math.Abs(pyNll - csNll) < 1e-5 * csNll, $"eval.py {pyNll} vs Trainer eval {csNll}");
        Assert.Equal(cs.RootElement.GetProperty("windows").GetInt32(), py.RootElement.GetProperty("windows").GetInt32());
        Assert.InRange(csNll, 0.5, Math.Log(256) - 0.3);   // trained: clearly below the uniform 5.55 nats

        // Without --data both evaluate the run's own held-out split (the last floor(N/10) tokens), read from training_state.json.
        double pySplit = JsonDocument.Parse(PythonTools.Eval("--checkpoint", last, "--json").Ok().Out.TrimEnd().Split('\n')[^1]).RootElement.GetProperty("val_nll").GetDouble();
        (code, csOut, err) = TrainerCliTests.Cli("eval", "--checkpoint", last, "--json");
        Assert.True(code == 0, err);
        double csSplit = JsonDocument.Parse(csOut.TrimEnd().Split('\n')[^1]).RootElement.GetProperty("val_nll").GetDouble();
        Assert.True(Math.Abs(pySplit - csSplit) < 1e-5 * csSplit, $"held-out split: eval.py {pySplit} vs Trainer eval {csSplit}");
        Assert.NotEqual(csNll, csSplit, 6);                // the split is not the whole file

        // Quantize with validation against the fp32 model.
        string onnx = Path.Combine(run.Dir, "model.onnx");
        var quantize = System.Reflection.Assembly.Load("EdgeShortcut.Quantize").EntryPoint!;
        var (qCode, qOut, qErr) = Capture(() => (int)quantize.Invoke(null, [new[] { "--checkpoint", last, "--out", onnx, "--validate", run.DataPath, "--json" }])!);
        Assert.True(qCode == 0, qErr);
        var v = JsonDocument.Parse(qOut.TrimEnd().Split('\n')[^1]).RootElement;
        double relDiff = v.GetProperty("rel_diff").GetDouble(), top1 = v.GetProperty("top1_agreement").GetDouble();
        output.WriteLine($"quantize --validate: rel_diff {relDiff:P4}, top-1 agreement {top1:P2}");
        Assert.InRange(Math.Abs(relDiff), 0, 0.005);                  // the int8 budget: 0.5% of the fp32 NLL
        Assert.InRange(top1, 0.98, 1.0);

        // The console sample generates from it.
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "EdgeShortcut.Console.dll"), "--model", onnx, "-t", "0", "-n", "20", "the cat" })
            psi.ArgumentList.Add(a);
        using var console = Process.Start(psi)!;
        var stdout = console.StandardOutput.ReadToEndAsync();
        var stderr = console.StandardError.ReadToEndAsync();
        Assert.True(console.WaitForExit(120_000), "the console sample did not finish in 2 minutes");
        string text = await stdout, consoleErr = await stderr;
        Assert.True(console.ExitCode == 0, consoleErr);
        Assert.StartsWith("the cat", text);
        Assert.True(text.Length > "the cat".Length + 5, text);   // 20 new bytes, some of them multi-byte characters
    }

    private static (int Code, string Out, string Err) Capture(Func<int> main)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return (main(), stdout.ToString(), stderr.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }
}
