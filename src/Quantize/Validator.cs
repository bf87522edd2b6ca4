using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Onnx;
using EdgeShortcut.Trainer.Data;
using EdgeShortcut.Trainer.Model;
using static TorchSharp.torch;

namespace EdgeShortcut.Quantize;

/// <summary>Validation numbers: the fp32 TorchSharp model vs the ONNX file on the same tokens.</summary>
/// <param name="HeldOut">True when every scored token lies in the file's last tenth, the trainer's validation split.</param>
/// <param name="NllFp32">Mean next-token NLL (nats/token) of the fp32 TorchSharp model.</param>
/// <param name="NllOnnx">Mean NLL of the ONNX model (ONNX Runtime, CPU provider).</param>
/// <param name="Top1Agreement">Share of positions where both models' argmax tokens agree, in [0, 1].</param>
/// <param name="MaxAbsLogitDiff">Largest |logit_fp32 - logit_onnx| over all positions and tokens.</param>
/// <param name="Positions">Number of predicted positions.</param>
public sealed record ValidationResult(double NllFp32, double NllOnnx, double Top1Agreement, double MaxAbsLogitDiff, int Positions, bool HeldOut)
{
    /// <summary>(onnx - fp32) / fp32.</summary>
    public double RelDiff => (NllOnnx - NllFp32) / NllFp32;
}

/// <summary>
/// Compares an exported ONNX model with the fp32 TorchSharp model of its checkpoint on held-out text:
/// the last <c>maxTokens + 1</c> tokens of the file, cut into non-overlapping full windows of n_ctx inputs
/// (docs/FORMAT.md section 6; each window is one uncached prefill in both engines, its targets are
/// the inputs shifted by one, a tail shorter than a window is dropped).
/// </summary>
public static class Validator
{
    /// <summary>Runs the comparison. <paramref name="textFile"/> is UTF-8 text for the byte tokenizer,
    /// or little-endian uint16 ids for <c>token-file</c>.</summary>
    public static ValidationResult Run(string checkpointDir, string onnxPath, string textFile, int maxTokens, bool floatActivations = false)
    {
        using var model = ModelCheckpoint.Load(checkpointDir, out var config);
        var file = ModelFile.Read(onnxPath);
        if (!file.Config.Equals(config.Model))
            throw new CheckpointFormatException(onnxPath, "the ONNX model's config differs from the checkpoint's: it was exported from another checkpoint");
        // The runtime's own ONNX Runtime loop (CPU provider), as an app would run the file.
        var activations = floatActivations ? ActivationPrecision.Float32 : ActivationPrecision.Int8;
        using var ort = new OnnxRuntimeBackend(file, BackendKind.Cpu, new EdgeModelOptions { Backend = BackendKind.Cpu, Activations = activations });
        using var sequence = (OnnxRuntimeSequence)ort.CreateSequence();
        int[] tokens = Tokenize(textFile, config.Tokenizer);
        int n = config.Model.ContextLength, V = config.Model.VocabSize;
        if (tokens.Length < 2) throw new CheckpointFormatException(textFile, "needs at least 2 tokens to score");
        int first = Math.Max(0, tokens.Length - maxTokens - 1);
        bool heldOut = first >= tokens.Length - tokens.Length / 10;     // the trainer validates on the last floor(N/10) tokens
        tokens = tokens[first..];

        double nllTorch = 0, nllOnnx = 0, maxDiff = 0;
        int agree = 0, positions = 0;
        if (tokens.Length < n + 1) throw new CheckpointFormatException(textFile, $"needs at least n_ctx + 1 = {n + 1} tokens to score one window");
        // Windows as in docs/FORMAT.md section 6: full n_ctx windows only, each from position 0; the tail is dropped.
        for (int start = 0; start + n + 1 <= tokens.Length; start += n)
        {
            int len = n;
            int[] input = tokens[start..(start + len)];
            float[] torchLogits;
            // Every window's temporaries are freed here, not left to GC finalizers (a long validation
            // without a scope crashed inside libtorch).
            using (var scope = NewDisposeScope())
            using (no_grad())
            using (var ids = tensor(input.Select(i => (long)i).ToArray(), [1, len]))
            using (var logits = model.forward(ids))
                torchLogits = logits.data<float>().ToArray();
            sequence.Reset();
            float[] onnxLogits = sequence.AppendAll(input).ToArray();
            for (int t = 0; t < len; t++)
            {
                var a = torchLogits.AsSpan(t * V, V);
                var b = onnxLogits.AsSpan(t * V, V);
                int target = tokens[start + t + 1];
                nllTorch += NextTokenLoss.Nll(a, target, out int torchBest);
                nllOnnx += NextTokenLoss.Nll(b, target, out int onnxBest);
                if (torchBest == onnxBest) agree++;
                for (int v = 0; v < V; v++) maxDiff = Math.Max(maxDiff, Math.Abs(a[v] - b[v]));
                positions++;
            }
        }
        return new ValidationResult(nllTorch / positions, nllOnnx / positions, (double)agree / positions, maxDiff, positions, heldOut);
    }

    /// <summary>Checks, before anything is exported, that <paramref name="textFile"/> can validate the checkpoint at
    /// <paramref name="checkpointDir"/>: it exists, reads with the checkpoint's tokenizer, and holds at least one
    /// window (n_ctx + 1 tokens). Throws <see cref="CheckpointFormatException"/> naming the file otherwise.</summary>
    public static void CheckInput(string checkpointDir, string textFile)
    {
        var config = Checkpoint.ReadConfig(checkpointDir);
        int tokens = Tokenize(textFile, config.Tokenizer).Length, needed = config.Model.ContextLength + 1;
        if (tokens < needed) throw new CheckpointFormatException(textFile, $"--validate needs at least n_ctx + 1 = {needed} tokens to score one window; it has {tokens}");
    }

    /// <summary>Token ids of a file per the checkpoint's tokenizer, read by the trainer's own loader
    /// (so validation sees exactly the ids training saw); its errors surface as the quantizer's
    /// <see cref="CheckpointFormatException"/>.</summary>
    public static int[] Tokenize(string path, TokenizerSpec tokenizer)
    {
        try { return Array.ConvertAll(TokenCorpus.Load(path, tokenizer).Tokens, id => (int)id); }
        catch (CorpusException e) { throw new CheckpointFormatException(path, e.Problem, e); }
    }
}
