using System.Diagnostics;
using EdgeShortcut.Core;

namespace EdgeShortcut.Runtime;

/// <summary>
/// The step API, for hosts that drive generation from their own loop (a UI or game frame): append
/// prompt tokens, then call <see cref="TryNextToken"/> once per frame. Each generator owns its
/// caches (allocated once); many generators may run at once on one <see cref="EdgeModel"/>, each on
/// its own thread. Not thread-safe itself.
/// </summary>
/// <remarks>
/// State: the tokens of the context window (cached at positions 0..<see cref="CachedTokens"/>-1)
/// followed by pending tokens (appended, not yet run through the model). Sampling a token appends it
/// as pending; the next call runs it. When a time budget is given, pending tokens run in chunks sized
/// from the measured cost per token, and the call returns false between chunks once the budget is
/// spent; one model call (one chunk, at least one token) is indivisible.
/// </remarks>
public sealed class Generator : IDisposable
{
    private readonly IInferenceSequence _sequence;
    private readonly ModelConfig _config;
    private readonly Sampler _sampler;
    private readonly float[] _logits; // [V] logits the last token was sampled from
    private int[] _tokens;          // [capacity] window tokens, then pending tokens
    private int _count;             // tokens in _tokens
    private double _secondsPerToken; // running estimate of model time per token (budgeted prefill)
    private bool _disposed;

    internal Generator(IInferenceSequence sequence, ModelConfig config, EdgeTokenizer tokenizer, GenerationOptions options)
    {
        Options = options.Validate();
        _sequence = sequence;
        _config = config;
        Tokenizer = tokenizer;
        _sampler = new Sampler(config.VocabSize, options);
        _tokens = new int[config.ContextLength + 1];
        _logits = new float[config.VocabSize];
    }

    /// <summary>The options this generator samples with.</summary>
    public GenerationOptions Options { get; }

    /// <summary>The model's tokenizer.</summary>
    public EdgeTokenizer Tokenizer { get; }

    /// <summary>Tokens held in the caches.</summary>
    public int CachedTokens => _sequence.Length;

    /// <summary>Tokens appended (or sampled) but not yet run through the model.</summary>
    public int PendingTokens => _count - _sequence.Length;

    /// <summary>The context window followed by the pending tokens.</summary>
    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, _count);

    /// <summary>True when the pending tokens do not fit the context: the next call slides the window
    /// (<see cref="ContextOverflowPolicy.SlidingWindow"/>) or throws.</summary>
    public bool IsContextFull => _count > _config.ContextLength;

    /// <summary>The logits <c>[V]</c> the last token was sampled from (before the repetition penalty);
    /// zeros before the first token. Overwritten by the next call.</summary>
    public ReadOnlySpan<float> Logits => _logits;

    /// <summary>How many times the sliding window re-prefilled the context.</summary>
    public int ContextSlides { get; private set; }

    /// <summary>Queues tokens (ids in 0..V-1) to run before the next sample. Under
    /// <see cref="ContextOverflowPolicy.Error"/> and <see cref="ContextOverflowPolicy.Stop"/> tokens
    /// that do not fit the context throw <see cref="ContextOverflowException"/> here.</summary>
    public void AppendTokens(ReadOnlySpan<int> tokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (int i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)_config.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token {tokens[i]} at index {i} is outside the vocabulary 0..{_config.VocabSize - 1}.");
        if (Options.ContextOverflow != ContextOverflowPolicy.SlidingWindow && _count + tokens.Length > _config.ContextLength)
            throw new ContextOverflowException(_count + tokens.Length, _config.ContextLength);
        if (_count + tokens.Length >= _tokens.Length) Array.Resize(ref _tokens, _count + tokens.Length + 1);
        tokens.CopyTo(_tokens.AsSpan(_count));
        _count += tokens.Length;
    }

    /// <summary>Queues the tokens of <paramref name="text"/>.</summary>
    public void AppendText(string text) => AppendTokens(Tokenizer.Encode(text));

    /// <summary>Runs the pending tokens and samples the next token (no time limit).</summary>
    public int NextToken()
    {
        TryNextToken(out int token, null);
        return token;
    }

    /// <summary>
    /// Runs pending tokens and samples the next one. With a <paramref name="timeBudget"/>, returns
    /// false (token = -1) when the budget ran out between prefill chunks: call again (next frame) to
    /// continue where it stopped. The sampled token is appended as pending.
    /// </summary>
    public bool TryNextToken(out int token, TimeSpan? timeBudget = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (timeBudget is { } b && b < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeBudget), "The time budget must not be negative.");
        if (_count == 0) throw new InvalidOperationException("Nothing to condition on: append at least one token (a non-empty prompt) first.");
        long start = Stopwatch.GetTimestamp();
        ReadOnlySpan<float> logits = default;
        bool ranAny = false;
        while (PendingTokens > 0)
        {
            if (IsContextFull) SlideOrThrow();
            int chunk = PendingTokens;
            if (timeBudget is { } budget)
            {
                double left = (budget - Stopwatch.GetElapsedTime(start)).TotalSeconds;
                int fits = _secondsPerToken > 0 ? (int)Math.Min(left / _secondsPerToken, int.MaxValue) : 8;
                if (ranAny && fits < 1) { token = -1; return false; }
                chunk = Math.Clamp(fits, 1, chunk);
            }
            long t0 = Stopwatch.GetTimestamp();
            logits = _sequence.Append(_tokens.AsSpan(_sequence.Length, chunk));
            double perToken = Stopwatch.GetElapsedTime(t0).TotalSeconds / chunk;
            _secondsPerToken = _secondsPerToken == 0 ? perToken : 0.7 * _secondsPerToken + 0.3 * perToken;
            ranAny = true;
        }
        // Every sample appends a pending token and Reset empties everything, so a call with tokens always runs the model.
        Debug.Assert(ranAny);
        logits.CopyTo(_logits);
        token = _sampler.Sample(logits, _tokens.AsSpan(0, _count));
        _tokens[_count++] = token;
        return true;
    }

    /// <summary>Forgets every token and empties the caches (the buffers stay allocated).</summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _sequence.Reset();
        _count = 0;
    }

    private void SlideOrThrow()
    {
        if (Options.ContextOverflow != ContextOverflowPolicy.SlidingWindow)
            throw new ContextOverflowException(_count, _config.ContextLength);
        // Absolute positions: cached keys are tied to their positions, so the kept window is run
        // again from position 0 (exactly what the model computes for that text on its own).
        int keep = Math.Max(1, _config.ContextLength / 2);
        _tokens.AsSpan(_count - keep, keep).CopyTo(_tokens);
        _count = keep;
        _sequence.Reset();
        ContextSlides++;
    }

    /// <summary>Frees the caches.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _sequence.Dispose();
    }
}
