using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Data;
using EdgeShortcut.Trainer.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Training;

/// <summary>Mean next-token NLL of a corpus, in nats per token, and its bits form.</summary>
/// <param name="MeanNll">Mean negative log-likelihood (nats/token).</param>
/// <param name="Tokens">Number of predicted tokens averaged over.</param>
/// <param name="Windows">Number of windows evaluated.</param>
public sealed record EvalResult(double MeanNll, long Tokens, int Windows)
{
    /// <summary>Bits per token = NLL / ln 2; for the byte tokenizer a token is a byte, so this is bits per byte.</summary>
    public double BitsPerToken => MeanNll / Math.Log(2);
}

/// <summary>
/// Evaluation on fixed, non-overlapping windows (docs/FORMAT.md section 6): with T = n_ctx and N
/// tokens, window w has inputs <c>tokens[w*T .. w*T+T)</c> and targets shifted by one, for
/// w = 0..floor((N-1)/T)-1; the tail that does not fill a window is dropped. Every other component
/// (quantizer, runtime) uses the same windows, so their numbers compare directly.
/// </summary>
public static class Evaluation
{
    /// <summary>Mean NLL of <paramref name="tokens"/> under <paramref name="model"/> (run in eval mode, no
    /// gradients; the model's previous mode is restored). Throws <see cref="CorpusException"/> when the
    /// corpus is shorter than one window.</summary>
    public static EvalResult MeanNll(ShortcutGpt model, TokenCorpus tokens, int batch = 16, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);   // 0 looped forever, -1 overflowed an allocation
        int t = model.Config.ContextLength, v = model.Config.VocabSize;
        tokens.RequireWindow(t, "evaluation");
        if (tokens.Tokenizer.VocabSize > v) throw new CorpusException(tokens.Source, $"corpus vocab {tokens.Tokenizer.VocabSize} exceeds the model's vocab {v}");
        int windows = (tokens.Length - 1) / t;
        bool wasTraining = model.training;
        model.eval();
        double total = 0;
        try
        {
            using var _ = no_grad();
            var inputs = new long[batch * t];
            var targets = new long[batch * t];
            for (int w0 = 0; w0 < windows; w0 += batch)
            {
                cancellation.ThrowIfCancellationRequested();
                int rows = Math.Min(batch, windows - w0);
                for (int r = 0; r < rows; r++)
                    for (int i = 0; i < t; i++)
                    {
                        inputs[r * t + i] = tokens.Tokens[(w0 + r) * t + i];
                        targets[r * t + i] = tokens.Tokens[(w0 + r) * t + i + 1];
                    }
                using var scope = NewDisposeScope();
                var x = tensor(inputs.AsSpan(0, rows * t).ToArray(), [rows, t]);
                var y = tensor(targets.AsSpan(0, rows * t).ToArray(), [rows * t]);
                var logits = model.forward(x).view(rows * t, v);
                total += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).to_type(ScalarType.Float64).item<double>();
            }
        }
        finally { model.train(wasTraining); }
        long count = (long)windows * t;
        return new EvalResult(total / count, count, windows);
    }

    /// <summary>Mean NLL of a corpus file read with the checkpoint's tokenizer (a UTF-8 text for <c>byte</c>).</summary>
    public static EvalResult MeanNll(ShortcutGpt model, string corpusPath, TokenizerSpec tokenizer, int batch = 16, CancellationToken cancellation = default) =>
        MeanNll(model, TokenCorpus.Load(corpusPath, tokenizer), batch, cancellation);
}
