using System.Diagnostics;
using System.Text;
using EdgeShortcut.Core;

namespace EdgeShortcut.Runtime;

/// <summary>
/// The step API, for hosts that drive generation from their own loop (a UI or game frame): append
/// prompt tokens, then call <see cref="TryNextToken"/> once per frame until <see cref="IsDone"/>.
/// Each generator owns its caches (allocated once); many generators may run at once on one
/// <see cref="EdgeModel"/>, each on its own thread. Not thread-safe itself. The streaming
/// <see cref="EdgeModel.GenerateAsync(string, GenerationOptions?, GenerationStats?, CancellationToken)"/>
/// is this loop on the thread pool.
/// </summary>
/// <remarks>
/// State: the tokens of the context window (cached at positions 0..<see cref="CachedTokens"/>-1)
/// followed by pending tokens (appended, not yet run through the model). Sampling a token appends it
/// as pending; the next call runs it. When a time budget is given, pending tokens run in chunks sized
/// from the measured cost per token, and the call returns false between chunks once the budget is
/// spent; one model call (one chunk, at least one token) is indivisible.
/// <para>A response is what is sampled after the last <see cref="AppendTokens"/> (or
/// <see cref="Reset"/>). It ends, and <see cref="IsDone"/> turns true, after
/// <see cref="GenerationOptions.MaxNewTokens"/> tokens, when its text produces one of
/// <see cref="GenerationOptions.StopSequences"/>, or when the context is full under
/// <see cref="ContextOverflowPolicy.Stop"/>; <see cref="FinishReason"/> says which. Sampling again
/// then throws; appending tokens starts the next response on the same caches (a multi-turn chat).</para>
/// <para>Text: <see cref="TakeText"/> returns the response's text as it grows, never a split UTF-8
/// character and never any part of a stop sequence (the stop sequence's tokens stay in
/// <see cref="Tokens"/>). Without stop sequences the text is decoded only when taken, so a host that
/// reads tokens alone allocates nothing per token.</para>
/// </remarks>
public sealed class Generator : IDisposable
{
    private readonly IInferenceSequence _sequence;
    private readonly DepthRunner _runner;           // runs tokens under Options.Depth
    private readonly int[] _queue;                  // self-speculative: tokens produced ahead, not yet returned
    private readonly float[] _queueLogits;          // [queue, V] their logits
    private int _queueStart, _queueCount;
    private readonly ModelConfig _config;
    private readonly Sampler _sampler;
    private readonly float[] _logits; // [V] logits the last token was sampled from
    private readonly Utf8StreamDecoder? _decoder;    // null: the tokenizer has no text form
    private readonly StopSequenceMatcher? _stops;
    private readonly StringBuilder? _text;          // text decoded and not yet taken
    private int[] _tokens;          // [capacity] window tokens, then pending tokens
    private int _count;             // tokens in _tokens
    private int _undecoded;         // index in _tokens of the first sampled token not yet decoded to _text
    private bool _textEnded;        // the response's text was flushed (decoder and matcher emptied)
    private double _secondsPerToken; // running estimate of model time per token (budgeted prefill)
    private bool _disposed;

    /// <summary><paramref name="options"/> were validated by the public entry that creates this.</summary>
    internal Generator(IInferenceSequence sequence, ModelConfig config, EdgeTokenizer tokenizer, GenerationOptions options)
    {
        if (options.StopSequences.Count > 0 && !tokenizer.SupportsText)
            throw new ArgumentException($"GenerationOptions.StopSequences need text, and this model's tokenizer is '{tokenizer.Spec.Kind}' (ids without text).", nameof(options.StopSequences));
        Options = options;
        _sequence = sequence;
        _config = config;
        Tokenizer = tokenizer;
        _sampler = new Sampler(config.VocabSize, options);
        _runner = new DepthRunner(sequence, config, options);
        int ahead = _runner.Speculative?.MaxTokensPerRound ?? 0;
        _queue = new int[ahead];
        _queueLogits = new float[ahead * config.VocabSize];
        _tokens = new int[config.ContextLength + 1];
        _logits = new float[config.VocabSize];
        if (tokenizer.SupportsText)
        {
            _decoder = tokenizer.CreateStreamDecoder();
            _stops = new StopSequenceMatcher(options.StopSequences);
            _text = new StringBuilder();
        }
    }

    /// <summary>The options this generator samples with.</summary>
    public GenerationOptions Options { get; }

    /// <summary>The model's tokenizer.</summary>
    public EdgeTokenizer Tokenizer { get; }

    /// <summary>Tokens held in the caches.</summary>
    public int CachedTokens => Math.Min(_sequence.Length, _count);

    /// <summary>Tokens appended (or sampled) but not yet run through the model.</summary>
    public int PendingTokens => Math.Max(0, _count - _sequence.Length);

    /// <summary>How deep the last sampled token's logits came from: its exit depth and, with
    /// <see cref="GenerationOptions.ReportDepth"/>, the final block's attention mass per tapped layer.</summary>
    public TokenDepth LastDepth => _runner.Last;

    /// <summary>Under <see cref="DepthPolicyKind.SelfSpeculative"/>: tokens drafted at the shallow exit so far
    /// (the first token of each round is the full model's and is not counted); 0 otherwise.</summary>
    public long DraftedTokens => _runner.Speculative?.Drafted ?? 0;

    /// <summary>Drafted tokens the full model agreed with (acceptance rate = this / <see cref="DraftedTokens"/>).</summary>
    public long AcceptedDrafts => _runner.Speculative?.Accepted ?? 0;

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

    /// <summary>Tokens sampled in the current response (since the last <see cref="AppendTokens"/> or
    /// <see cref="Reset"/>), including those of a stop sequence.</summary>
    public int GeneratedTokens { get; private set; }

    /// <summary>True once the current response has ended (see <see cref="FinishReason"/>): sampling
    /// throws until tokens are appended or the generator is reset.</summary>
    public bool IsDone => FinishReason != FinishReason.None;

    /// <summary>Why the current response ended; <see cref="FinishReason.None"/> while it runs.</summary>
    public FinishReason FinishReason { get; private set; }

    /// <summary>Queues tokens (ids in 0..V-1) to run before the next sample, and starts a new response
    /// (the text of the previous one is completed first, for <see cref="TakeText"/>). Under
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
        DropQueue();
        if (GeneratedTokens > 0) DecodeText(final: true);   // complete the text of the response that ends here
        tokens.CopyTo(_tokens.AsSpan(_count));
        _count += tokens.Length;
        StartResponse();
    }

    /// <summary>Queues the tokens of <paramref name="text"/>.</summary>
    public void AppendText(string text) => AppendTokens(Tokenizer.Encode(text));

    /// <summary>Runs the pending tokens and samples the next token (no time limit). Throws
    /// <see cref="InvalidOperationException"/> when <see cref="IsDone"/>.</summary>
    public int NextToken()
    {
        TryNextToken(out int token, null);
        return token;
    }

    /// <summary>
    /// Runs pending tokens and samples the next one. With a <paramref name="timeBudget"/>, returns
    /// false (token = -1) when the budget ran out between prefill chunks: call again (next frame) to
    /// continue where it stopped. The sampled token is appended as pending; the response may then be
    /// done (<see cref="IsDone"/>). Throws <see cref="InvalidOperationException"/> when it is already done.
    /// </summary>
    public bool TryNextToken(out int token, TimeSpan? timeBudget = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (timeBudget is { } b && b < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeBudget), "The time budget must not be negative.");
        if (IsDone) throw new InvalidOperationException($"The response is done ({FinishReason}, after {GeneratedTokens} tokens): append tokens to continue with new input, or Reset to start over.");
        if (_count == 0) throw new InvalidOperationException("Nothing to condition on: append at least one token (a non-empty prompt) first.");
        if (_queueCount == 0 && _runner.Speculative is { } speculative && PendingTokens == 1 && !IsContextFull)
        {
            // Greedy self-speculation: one round yields up to MaxDraft full-model tokens, returned one per call.
            _queueCount = speculative.Round(_tokens[_count - 1], _queue, _queueLogits);
            _queueStart = 0;
        }
        if (_queueCount > 0)
        {
            token = _queue[_queueStart];
            _queueLogits.AsSpan(_queueStart * _config.VocabSize, _config.VocabSize).CopyTo(_logits);
            _queueStart++;
            _queueCount--;
            _runner.Produced(_config.SelfAttentionBlocks);
            _tokens[_count++] = token;
            GeneratedTokens++;
            UpdateFinish();
            return true;
        }
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
            logits = _runner.Run(_tokens.AsSpan(_sequence.Length, chunk));
            double perToken = Stopwatch.GetElapsedTime(t0).TotalSeconds / chunk;
            _secondsPerToken = _secondsPerToken == 0 ? perToken : 0.7 * _secondsPerToken + 0.3 * perToken;
            ranAny = true;
        }
        // Every sample appends a pending token and Reset empties everything, so a call with tokens always runs the model.
        Debug.Assert(ranAny);
        logits.CopyTo(_logits);
        token = _sampler.Sample(logits, _tokens.AsSpan(0, _count));
        _tokens[_count++] = token;
        GeneratedTokens++;
        UpdateFinish();
        return true;
    }

    /// <summary>The text of the current response produced since the last call (empty if none yet):
    /// whole UTF-8 characters, never any part of a stop sequence (text that could begin one is held
    /// back until decided). Once <see cref="IsDone"/>, the rest of the text. Throws
    /// <see cref="NotSupportedException"/> when the tokenizer has no text form.</summary>
    public string TakeText()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_text is null)
            throw new NotSupportedException($"This model's tokenizer is '{Tokenizer.Spec.Kind}' (ids without text): read Tokens instead.");
        DecodeText(final: IsDone);
        string text = _text.ToString();
        _text.Clear();
        return text;
    }

    /// <summary>Forgets every token and empties the caches (the buffers stay allocated).</summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _queueCount = 0;
        _sequence.Reset();
        _count = 0;
        _text?.Clear();
        StartResponse();
    }

    private void StartResponse()
    {
        _undecoded = _count;
        _textEnded = false;
        GeneratedTokens = 0;
        FinishReason = FinishReason.None;
        _decoder?.Reset();
        _stops?.Reset();
    }

    /// <summary>Ends the response when it has reached a limit. Stop sequences are looked for as each
    /// token comes (that needs its text); without them the text waits until it is taken.</summary>
    private void UpdateFinish()
    {
        if (Options.StopSequences.Count > 0)
        {
            DecodeText(final: false);
            if (_stops!.Stopped) { FinishReason = FinishReason.StopSequence; DropQueue(); return; }
        }
        if (GeneratedTokens == Options.MaxNewTokens) FinishReason = FinishReason.Length;
        else if (Options.ContextOverflow == ContextOverflowPolicy.Stop && IsContextFull) FinishReason = FinishReason.ContextFull;
        else return;
        DropQueue();
        if (Options.StopSequences.Count == 0) return;
        DecodeText(final: true);
        // The last bytes of a character can complete a stop sequence.
        if (_stops!.Stopped) FinishReason = FinishReason.StopSequence;
    }

    /// <summary>Decodes the sampled tokens not yet decoded into <see cref="_text"/>, through the
    /// stop-sequence matcher; <paramref name="final"/> ends the response's text once (an incomplete
    /// character becomes U+FFFD, held text that did not become a stop sequence is released).</summary>
    private void DecodeText(bool final)
    {
        if (_text is null) { _undecoded = _count; return; }
        for (; _undecoded < _count; _undecoded++)
            _text.Append(_stops!.Push(_decoder!.Push(_tokens[_undecoded])));
        if (!final || _textEnded) return;
        _textEnded = true;
        _text.Append(_stops!.Push(_decoder!.Flush()));
        _text.Append(_stops.Flush());
    }

    /// <summary>Forgets tokens the speculative decoder produced ahead and not returned: the caches go back so
    /// that, as always, the last returned token is pending (not yet run).</summary>
    private void DropQueue()
    {
        if (_queueCount == 0 && _sequence.Length < _count) return;
        _queueCount = 0;
        _runner.Speculative?.DropAheadOf(Math.Max(0, _count - 1));
    }

    private void SlideOrThrow()
    {
        if (Options.ContextOverflow != ContextOverflowPolicy.SlidingWindow)
            throw new ContextOverflowException(_count, _config.ContextLength);
        // Absolute positions: cached keys are tied to their positions, so the kept window is run
        // again from position 0 (exactly what the model computes for that text on its own).
        int keep = Math.Max(1, _config.ContextLength / 2);
        if (_undecoded < _count) DecodeText(final: false);   // the window moves the tokens
        _tokens.AsSpan(_count - keep, keep).CopyTo(_tokens);
        _count = keep;
        _undecoded = _count;
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
