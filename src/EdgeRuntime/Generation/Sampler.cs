using System.Numerics.Tensors;

namespace EdgeShortcut.Runtime;

/// <summary>
/// Chooses the next token from logits <c>[V]</c>: repetition penalty, then greedy (temperature 0) or
/// temperature + top-k + top-p sampling with a seeded generator. All scratch is allocated once in
/// the constructor: <see cref="Sample"/> allocates nothing.
/// </summary>
internal sealed class Sampler
{
    private readonly GenerationOptions _options;
    private readonly int _vocab;
    private readonly float[] _scores;   // [V] logits after the repetition penalty
    private readonly float[] _work;     // [V] negated scores for sorting, then probabilities
    private readonly int[] _ids;        // [V] token id of each _work entry
    private readonly int[] _seen;       // [V] stamp of the last penalty pass that touched a token (dedupe without clearing)
    private int _stamp;
    private readonly Random _random;

    /// <summary>Creates a sampler for a vocabulary of <paramref name="vocabSize"/> ids;
    /// <paramref name="options"/> were validated by the public entry that reached here.</summary>
    public Sampler(int vocabSize, GenerationOptions options)
    {
        _options = options;
        _vocab = vocabSize;
        _scores = new float[vocabSize];
        _work = new float[vocabSize];
        _ids = new int[vocabSize];
        _seen = new int[vocabSize];
        _random = options.Seed is int seed ? new Random(seed) : new Random();
    }

    /// <summary>Picks a token. <paramref name="recent"/> are the latest tokens of the context (the
    /// sampler looks at its last <see cref="GenerationOptions.RepetitionWindow"/>).</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> recent)
    {
        if (logits.Length != _vocab) throw new ArgumentException($"Expected {_vocab} logits, got {logits.Length}.", nameof(logits));
        logits.CopyTo(_scores);
        ApplyRepetitionPenalty(recent);

        float max = TensorPrimitives.Max<float>(_scores);
        if (!float.IsFinite(max)) throw new NonFiniteValueException($"The model produced non-finite logits (max = {max}): its weights overflow on this input, so the model file is numerically broken.");
        if (_options.Temperature == 0) return TensorPrimitives.IndexOfMax<float>(_scores);

        int n = _vocab;
        bool truncate = (_options.TopK > 0 && _options.TopK < _vocab) || _options.TopP < 1f;
        Span<float> work = _work;
        Span<int> ids = _ids;
        if (truncate)
        {
            // Sort ids by score, descending: ascending sort of the negated scores.
            TensorPrimitives.Negate<float>(_scores, work);
            for (int i = 0; i < _vocab; i++) ids[i] = i;
            work.Sort(ids);
            if (_options.TopK > 0) n = Math.Min(_options.TopK, _vocab);
            // p_i = exp((s_i - max) / T) with s_i = -work[i].
            TensorPrimitives.Add(work[..n], max, work[..n]);
            TensorPrimitives.Multiply(work[..n], -1f / _options.Temperature, work[..n]);
        }
        else
        {
            for (int i = 0; i < _vocab; i++) ids[i] = i;
            TensorPrimitives.Subtract(_scores, max, work);
            TensorPrimitives.Multiply(work, 1f / _options.Temperature, work);
        }
        TensorPrimitives.Exp(work[..n], work[..n]);
        float total = TensorPrimitives.Sum<float>(work[..n]);

        if (_options.TopP < 1f)
        {
            // Smallest prefix (most likely first) whose mass reaches TopP; the relative slack keeps a
            // boundary like p = 0.5 over probabilities 0.5, 0.3, 0.2 from depending on rounding.
            float target = _options.TopP * total * (1 - 1e-6f), cum = 0;
            int kept = n;
            for (int i = 0; i < n; i++)
            {
                cum += work[i];
                if (cum >= target) { kept = i + 1; break; }
            }
            n = kept;
            total = cum;
        }

        float u = (float)(_random.NextDouble() * total), acc = 0;
        for (int i = 0; i < n; i++)
        {
            acc += work[i];
            if (u < acc) return ids[i];
        }
        return ids[n - 1];
    }

    private void ApplyRepetitionPenalty(ReadOnlySpan<int> recent)
    {
        float penalty = _options.RepetitionPenalty;
        if (penalty == 1f || _options.RepetitionWindow == 0) return;
        if (recent.Length > _options.RepetitionWindow) recent = recent[^_options.RepetitionWindow..];
        if (++_stamp == int.MaxValue) { Array.Clear(_seen); _stamp = 1; }
        foreach (int t in recent)
        {
            if ((uint)t >= (uint)_vocab || _seen[t] == _stamp) continue;
            _seen[t] = _stamp;
            float s = _scores[t];
            _scores[t] = s > 0 ? s / penalty : s * penalty;
        }
    }
}
