using EdgeShortcut.Core;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Quantize;

/// <summary>Issue 12 reproducers against the quantizer's command line: every input is checked before
/// anything is written, a non-finite weight is named, and the exit codes are those of every tool
/// (2 usage, 1 runtime).</summary>
[Collection("Torch")]
public sealed class QuantizeCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("es-qcli-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>Runs the quantizer's entry point in process.</summary>
    internal static (int Code, string Out, string Err) Cli(params string[] args) =>
        InProcessCli.Run(System.Reflection.Assembly.Load("EdgeShortcut.Quantize"), args);

    private static void AssertError(int code, string err, int expected, params string[] mentions)
    {
        Assert.True(expected == code, $"exit {code}, expected {expected}: {err}");
        Assert.StartsWith("error: ", err);
        Assert.DoesNotContain("   at ", err);
        foreach (var m in mentions) Assert.Contains(m, err);
    }

    [Fact]
    public void A_missing_validate_file_fails_before_the_onnx_file_is_written()
    {
        string ckpt = Path.Combine(_dir, "ckpt"), onnx = Path.Combine(_dir, "m.onnx"), missing = Path.Combine(_dir, "missing.txt");
        TinyCheckpoint.Write(ckpt, TinyCheckpoint.Config(), seed: 1);
        var (code, _, err) = Cli("--checkpoint", ckpt, "--out", onnx, "--validate", missing);
        AssertError(code, err, 1, "missing.txt");
        Assert.False(File.Exists(onnx));
        string tooShort = Path.Combine(_dir, "short.txt");
        File.WriteAllText(tooShort, "abc");
        (code, _, err) = Cli("--checkpoint", ckpt, "--out", onnx, "--validate", tooShort);
        AssertError(code, err, 1, "short.txt", "n_ctx + 1");
        Assert.False(File.Exists(onnx));
        Assert.Empty(Directory.GetFiles(_dir, "*onnx*"));   // no temp file left either
    }

    [Fact]
    public void A_nan_weight_is_named_and_nothing_is_written()
    {
        string ckpt = Path.Combine(_dir, "ckpt"), onnx = Path.Combine(_dir, "m.onnx");
        var config = TinyCheckpoint.Config();
        var weights = TinyCheckpoint.Write(ckpt, config, seed: 1);
        weights["shortcut.attn.q.weight"].Data[7] = float.NaN;
        Safetensors.Write(Path.Combine(ckpt, Checkpoint.WeightsFile), TensorNames.All(config).Select(t => weights[t.Name]));
        foreach (var precision in new[] { "int8", "fp32" })
        {
            var (code, _, err) = Cli("--checkpoint", ckpt, "--out", onnx, "--precision", precision);
            AssertError(code, err, 1, "'shortcut.attn.q.weight'", "NaN");
            Assert.False(File.Exists(onnx));
        }
    }

    [Fact]
    public void Bad_flags_are_usage_errors_and_bad_files_runtime_errors()
    {
        string ckpt = Path.Combine(_dir, "ckpt"), onnx = Path.Combine(_dir, "m.onnx");
        TinyCheckpoint.Write(ckpt, TinyCheckpoint.Config(), seed: 1);
        var (code, _, err) = Cli("--checkpoint", ckpt, "--out", onnx, "--validate-tokens", "0", "--validate", onnx);
        AssertError(code, err, 2, "--validate-tokens");
        (code, _, err) = Cli("--checkpoint", ckpt, "--out", onnx, "--precision", "int4");
        Assert.Equal(2, code);
        (code, _, err) = Cli("--checkpoint", Path.Combine(_dir, "nowhere"), "--out", onnx);
        AssertError(code, err, 1, "nowhere");
        Assert.False(File.Exists(onnx));
    }
}
