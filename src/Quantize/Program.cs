using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgeShortcut;
using EdgeShortcut.Core;
using EdgeShortcut.Quantize;

// EdgeShortcut quantizer CLI (issue 3): checkpoint directory -> one self-describing ONNX file.
// Library code throws typed exceptions; only this entry point catches them and prints one line, with the
// exit codes of every tool (CliExitCodes): 2 for a usage error (bad flags), 1 for a runtime error (bad files).
// Every input is checked before anything is written, and the ONNX file is written atomically.

var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint directory (config.json + model.safetensors).", Required = true };
var output = new Option<string>("--out") { Description = "ONNX file to write (atomically).", Required = true };
var precision = new Option<string>("--precision") { Description = "Weight precision: int8 (default) or fp32.", DefaultValueFactory = _ => "int8" };
precision.AcceptOnlyFromAmong("int8", "fp32");
var validate = new Option<string?>("--validate") { Description = "Held-out text: compare the ONNX model with the fp32 TorchSharp model on it." };
var validateActivations = new Option<string>("--validate-activations") { Description = "How ORT runs the int8 file in --validate: int8 (its default fused int8 MatMul, activations quantized per block of 32) or float32 (DequantizeLinear folded, float MatMuls; the runtime's default).", DefaultValueFactory = _ => "int8" };
var validateTokens = new Option<int>("--validate-tokens") { Description = "Score the last N tokens of the --validate file.", DefaultValueFactory = _ => 16384 };
var adaptiveThreshold = new Option<float?>("--adaptive-threshold") { Description = "Exit-trained models: the adaptive-depth threshold in (0, 1] to recommend in the file's metadata (the runtime's 'adaptive' without a threshold), chosen by measurement with the console's eval (docs/ADAPTIVE.md)." };
var json = new Option<bool>("--json") { Description = "End the output with one JSON line (validation numbers when --validate is given)." };

var root = new RootCommand("Export an EdgeShortcut checkpoint as an int8 (or fp32) ONNX model with key/value and shortcut caches.")
{
    checkpoint, output, precision, validate, validateTokens, validateActivations, adaptiveThreshold, json,
};
validateActivations.AcceptOnlyFromAmong("int8", "float32");
root.SetAction(parse =>
{
    try
    {
        var exportPrecision = parse.GetValue(precision) == "fp32" ? ExportPrecision.Fp32 : ExportPrecision.Int8;
        bool floatActivations = parse.GetValue(validateActivations) == "float32";
        return Run(parse.GetValue(checkpoint)!, parse.GetValue(output)!, exportPrecision,
            parse.GetValue(validate), parse.GetValue(validateTokens), floatActivations, parse.GetValue(adaptiveThreshold), parse.GetValue(json));
    }
    catch (ArgumentException e)   // a bad flag value, named by its flag
    {
        Console.Error.WriteLine($"error: {CliExitCodes.WithoutParameterSuffix(e.Message)}");
        return CliExitCodes.Usage;
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException or NonFiniteValueException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return CliExitCodes.Runtime;
    }
});
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var e in parsed.Errors) Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("(--help lists the flags)");
    return CliExitCodes.Usage;
}
return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });

static int Run(string checkpointDir, string outPath, ExportPrecision precision, string? validateFile, int validateTokens, bool floatActivations, float? adaptiveThreshold, bool json)
{
    if (validateTokens < 1) throw new ArgumentException($"--validate-tokens must be >= 1 (got {validateTokens}).", "--validate-tokens");
    if (Directory.Exists(outPath)) throw new ArgumentException($"--out {outPath} is a directory; give the ONNX file to write.", "--out");
    // Every input is checked before the output is written: a bad --validate file must not leave a new ONNX file behind.
    if (validateFile is not null) Validator.CheckInput(checkpointDir, validateFile);
    var ic = CultureInfo.InvariantCulture;
    var result = OnnxExporter.Export(checkpointDir, outPath, precision, adaptiveThreshold);
    Console.WriteLine($"exported {checkpointDir} -> {result.OutputPath} ({result.Metadata.Precision})");
    if (result.Errors.Count > 0)
    {
        Console.WriteLine($"{"tensor",-34} {"shape [out,in]",-14} {"max_abs_err",12} {"rms_err",12} {"rel_rms",10}");
        foreach (var e in result.Errors)
            Console.WriteLine(string.Format(ic, "{0,-34} {1,-14} {2,12:E3} {3,12:E3} {4,10:P3}", e.Name, $"[{string.Join(",", e.Shape)}]", e.MaxAbs, e.Rms, e.RelativeRms));
        var worst = result.Errors.MaxBy(e => e.RelativeRms)!;
        Console.WriteLine(string.Format(ic, "worst relative RMS error: {0:P3} ({1})", worst.RelativeRms, worst.Name));
    }
    Console.WriteLine(string.Format(ic, "size: model.safetensors {0:N0} bytes (fp32) -> ONNX {1:N0} bytes ({2:P1})",
        result.SourceBytes, result.OutputBytes, (double)result.OutputBytes / result.SourceBytes));

    if (validateFile is null)
    {
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                output = result.OutputPath, precision = result.Metadata.Precision, source_bytes = result.SourceBytes, onnx_bytes = result.OutputBytes,
                max_rel_rms = result.Errors.Count == 0 ? 0 : result.Errors.Max(e => e.RelativeRms),
            }));
        return 0;
    }

    var v = Validator.Run(checkpointDir, outPath, validateFile, validateTokens, floatActivations);
    string activations = floatActivations ? "float32" : "int8";
    Console.WriteLine(string.Format(ic, "validation on the last {0} positions of {1}{2}:", v.Positions, validateFile,
        v.HeldOut ? " (inside the trainer's held-out last 10%)" : " (WARNING: reaches into the trainer's 90% training split)"));
    Console.WriteLine(string.Format(ic, "  NLL fp32 (TorchSharp)  {0:F6} nats/token", v.NllFp32));
    Console.WriteLine(string.Format(ic, "  NLL ONNX ({0,-4}, ORT, {2} activations) {1:F6} nats/token", result.Metadata.Precision, v.NllOnnx, activations));
    Console.WriteLine(string.Format(ic, "  rel_diff               {0}{1:F6} %", v.RelDiff >= 0 ? "+" : "", 100 * v.RelDiff));
    Console.WriteLine(string.Format(ic, "  top-1 agreement        {0:P3}", v.Top1Agreement));
    Console.WriteLine(string.Format(ic, "  max |logit diff|       {0:E3}", v.MaxAbsLogitDiff));
    if (json)
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            nll_fp32 = v.NllFp32, nll_onnx = v.NllOnnx, rel_diff = v.RelDiff, top1_agreement = v.Top1Agreement,
            max_abs_logit_diff = v.MaxAbsLogitDiff, positions = v.Positions, held_out = v.HeldOut, precision = result.Metadata.Precision, activations,
        }));
    return 0;
}
