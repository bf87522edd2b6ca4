using System.Diagnostics;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.Runtime;

/// <summary>What <see cref="TokenScorer.Score"/> measured.</summary>
/// <param name="Depth">The policy scored.</param>
/// <param name="Positions">Predicted positions.</param>
/// <param name="Nll">Mean next-token negative log-likelihood, nats per token (per byte for the byte tokenizer).</param>
/// <param name="Top1">Share of positions whose most likely token was the target.</param>
/// <param name="Seconds">Wall time of the model steps (the NLL arithmetic excluded).</param>
/// <param name="ExitHistogram">Index e: how many positions exited at depth e (0..L-1 for a shortcut model, whose
/// full depth is L-1; 0..L for a plain GPT, whose L blocks are its full depth).</param>
public sealed record ScoreResult(DepthPolicy Depth, int Positions, double Nll, double Top1, double Seconds, long[] ExitHistogram)
{
    /// <summary>Positions per second of model time.</summary>
    public double TokensPerSecond => Seconds > 0 ? Positions / Seconds : 0;

    /// <summary>Mean exit depth over the positions.</summary>
    public double MeanExitDepth => Positions == 0 ? 0 : ExitHistogram.Select((n, e) => (double)n * e).Sum() / Positions;
}

/// <summary>
/// Teacher-forced scoring with a depth policy: the held-out NLL a policy costs, measured the way decoding
/// runs (one token per model step, each deciding its own depth). The token stream is cut into the
/// windows of FORMAT.md section 6 (n_ctx inputs each, from position 0, the tail shorter than a window
/// dropped), so full depth reproduces the trainer's <c>val_nll</c> up to the engine's arithmetic.
/// Managed engine only; <see cref="DepthPolicyKind.SelfSpeculative"/> is not scored (its logits are the
/// full model's by construction: score <see cref="DepthPolicy.Full"/>, and time it by generating).
/// </summary>
public sealed class TokenScorer : IDisposable
{
    private readonly ManagedSequence _sequence;
    private readonly ModelConfig _config;
    private readonly DepthRunner _runner;   // runs each token under the policy, as a generator does

    internal TokenScorer(ManagedSequence sequence, ModelConfig config, DepthPolicy depth)
    {
        _sequence = sequence;
        _config = config;
        Depth = depth;
        _runner = new DepthRunner(sequence, config, new GenerationOptions { Depth = depth });
    }

    /// <summary>The policy this scorer runs.</summary>
    public DepthPolicy Depth { get; }

    /// <summary>Scores <paramref name="tokens"/> (ids in 0..V-1): at most <paramref name="maxPositions"/> positions,
    /// window by window. <paramref name="progress"/> receives the positions done after each window.</summary>
    public ScoreResult Score(ReadOnlySpan<int> tokens, int maxPositions = int.MaxValue, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        int n = _config.ContextLength, V = _config.VocabSize;
        if (maxPositions < 1) throw new ArgumentOutOfRangeException(nameof(maxPositions), maxPositions, "Score at least one position.");
        if (tokens.Length < n + 1) throw new ArgumentException($"Scoring needs at least n_ctx + 1 = {n + 1} tokens (one window); got {tokens.Length}.", nameof(tokens));
        foreach (int t in tokens)
            if ((uint)t >= (uint)V) throw new ArgumentOutOfRangeException(nameof(tokens), t, $"Token id must be in 0..{V - 1}.");
        var histogram = new long[_sequence.FullDepth + 1];   // depths 0..L-1 (a plain GPT's full depth is its L blocks)
        double nll = 0;
        long ticks = 0;
        int positions = 0, top1 = 0;
        int[] one = new int[1];
        for (int start = 0; start + n + 1 <= tokens.Length && positions < maxPositions; start += n)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _sequence.Reset();
            for (int t = 0; t < n && positions < maxPositions; t++)
            {
                one[0] = tokens[start + t];
                long t0 = Stopwatch.GetTimestamp();
                var logits = _runner.Run(one);
                ticks += Stopwatch.GetTimestamp() - t0;
                int target = tokens[start + t + 1];
                nll += NextTokenLoss.Nll(logits, target, out int argmax);
                if (argmax == target) top1++;
                histogram[_runner.Last.ExitDepth]++;
                positions++;
            }
            progress?.Report(positions);
        }
        return new ScoreResult(Depth, positions, nll / positions, (double)top1 / positions, ticks / (double)Stopwatch.Frequency, histogram);
    }

    /// <summary>Frees the caches.</summary>
    public void Dispose() => _sequence.Dispose();
}
