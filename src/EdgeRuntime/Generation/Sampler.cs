using System.Runtime.CompilerServices;

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
    /// <remarks>Compiled fully optimized at its first call, with plain loops instead of <c>TensorPrimitives</c>: a reply of a
    /// few hundred tokens ends before tiered compilation optimizes the per-token code, and <c>TensorPrimitives</c>' generic
    /// methods (a package assembly, not precompiled) ran unoptimized all the while: sampled decode took ~30 us a token more
    /// than greedy here, ~3 us once optimized (docs/BENCHMARKS.md, "Nineteenth session"). The vocabulary is small (256
    /// bytes by default), so scalar loops suffice.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> recent)
    {
        if (logits.Length != _vocab) throw new ArgumentException($"Expected {_vocab} logits, got {logits.Length}.", nameof(logits));
        logits.CopyTo(_scores);
        ApplyRepetitionPenalty(recent);

        int best = IndexOfMax(_scores);
        float max = best < 0 ? float.NaN : _scores[best];
        if (!float.IsFinite(max)) throw new NonFiniteValueException($"The model produced non-finite logits (max = {max}): its weights overflow on this input, so the model file is numerically broken.");
        if (_options.Temperature == 0) return best;

        int n = _options.TopK > 0 ? Math.Min(_options.TopK, _vocab) : _vocab;
        Span<float> work = _work;
        Span<int> ids = _ids;
        if (n < _vocab) SelectTop(_scores, n, work, ids);
        else if (_options.TopP < 1f) SortAll(_scores, work, ids);
        else
        {
            _scores.CopyTo(work);
            for (int i = 0; i < _vocab; i++) ids[i] = i;
        }
        // p_i = exp((s_i - max) / T), most likely first when truncating.
        float inverseT = 1f / _options.Temperature, total = 0;
        for (int i = 0; i < n; i++) total += work[i] = MathF.Exp((work[i] - max) * inverseT);

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

    /// <summary>The index of the largest score, the lowest on ties; -1 when a score is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // a callee tiers on its own: see Sample
    private static int IndexOfMax(ReadOnlySpan<float> scores)
    {
        int best = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if (float.IsNaN(scores[i])) return -1;
            if (scores[i] > scores[best]) best = i;
        }
        return best;
    }

    /// <summary>The <paramref name="k"/> largest scores into <paramref name="top"/> and their ids into <paramref name="ids"/>,
    /// largest first and the lower id first on ties (an insertion into a sorted prefix: O(V) when k is small).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // a callee tiers on its own: see Sample
    private static void SelectTop(ReadOnlySpan<float> scores, int k, Span<float> top, Span<int> ids)
    {
        int count = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            float s = scores[i];
            if (count == k && !(s > top[k - 1])) continue;   // not better than the last kept (a tie keeps the lower id)
            int j = count < k ? count++ : k - 1;
            for (; j > 0 && s > top[j - 1]; j--) (top[j], ids[j]) = (top[j - 1], ids[j - 1]);
            (top[j], ids[j]) = (s, i);
        }
    }

    /// <summary>Every score, largest first and the lower id first on ties, as <see cref="SelectTop"/> orders them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // a callee tiers on its own: see Sample
    private static void SortAll(float[] scores, Span<float> sorted, Span<int> ids)
    {
        for (int i = 0; i < ids.Length; i++) ids[i] = i;
        ids.Sort(new ByScoreThenId(scores));
        for (int i = 0; i < ids.Length; i++) sorted[i] = scores[ids[i]];
    }

    private readonly struct ByScoreThenId(float[] scores) : IComparer<int>
    {
        public int Compare(int a, int b) => scores[a] > scores[b] ? -1 : scores[a] < scores[b] ? 1 : a.CompareTo(b);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // a callee tiers on its own: see Sample
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
