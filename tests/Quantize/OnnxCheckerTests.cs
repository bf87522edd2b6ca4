using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Quantize;

/// <summary>The exported files pass the independent checker (onnx 1.12, full_check=True, which also
/// runs shape inference) and use only default-domain opset-17 operators.</summary>
public sealed class OnnxCheckerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("es-check-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData(true, ExportPrecision.Int8)]
    [InlineData(true, ExportPrecision.Fp32)]
    [InlineData(false, ExportPrecision.Int8)]
    [InlineData(false, ExportPrecision.Fp32)]
    public void Exported_file_passes_onnx_checker_full_check(bool shortcut, ExportPrecision precision)
    {
        var c = TinyCheckpoint.Config(shortcut, tied: shortcut);
        var ckpt = Path.Combine(_dir, "ckpt");
        TinyCheckpoint.Write(ckpt, c, seed: 5);
        string path = Path.Combine(_dir, "m.onnx");
        OnnxExporter.Export(ckpt, path, precision);
        string output = PythonOnnx.Run("""
            import sys, onnx
            m = onnx.load(sys.argv[1])
            onnx.checker.check_model(m, full_check=True)
            print(m.ir_version, [(o.domain, o.version) for o in m.opset_import])
            print(sorted({n.domain for n in m.graph.node}))
            """, path);
        var lines = output.Split('\n');
        Assert.Equal("8 [('', 17)]", lines[0]);
        Assert.Equal("['']", lines[1]);
    }
}
