using System.Diagnostics;
using EdgeShortcut.Runtime;

namespace EdgeShortcut.ConsoleSample;

/// <summary>
/// How <c>eval</c> times self-speculative policies: greedy generation from the first
/// <see cref="PromptTokens"/> tokens of each window (fewer on a model with n_ctx &lt; 64: half the window)
/// up to the end of the window, by a greedy Full generator and by each speculative generator, in turns.
/// Decode speed excludes the first call (the prompt's prefill and first token). Also checks that each
/// speculative text equals Full's, token for token, as the policy promises.
/// </summary>
internal sealed class SpeculativeRace : IDisposable
{
    public const int PromptTokens = 32;

    private sealed class Runner(DepthPolicy depth, Generator generator, int layers)
    {
        public DepthPolicy Depth { get; } = depth;
        public Generator Generator { get; } = generator;
        public long Tokens, Ticks, Windows, IdenticalWindows;
        public long[] Histogram { get; } = new long[layers];
        public int[] Last = [];
    }

    private readonly Runner _full;
    private readonly List<Runner> _speculative = [];
    private readonly int _prompt;
    private int _round;

    public SpeculativeRace(EdgeModel model, IEnumerable<DepthPolicy> policies)
    {
        int n = model.Config.ContextLength;
        _prompt = Math.Min(PromptTokens, n / 2);
        Runner Make(DepthPolicy p) => new(p, model.CreateGenerator(GenerationOptions.Greedy with
        {
            Depth = p, MaxNewTokens = n - _prompt, ContextOverflow = ContextOverflowPolicy.Stop,
        }), model.Config.Layers);
        _full = Make(DepthPolicy.Full);
        try { foreach (var p in policies) _speculative.Add(Make(p)); }
        catch { Dispose(); throw; }
    }

    /// <summary>Greedy Full decode tokens/s on the race's prompts.</summary>
    public double FullTokensPerS => Speed(_full);

    public double TokensPerS(DepthPolicy p) => Speed(Of(p));

    /// <summary>Index e: generated tokens whose logits came from depth e (the full depth, by construction).</summary>
    public long[] Histogram(DepthPolicy p) => Of(p).Histogram;

    public double MeanExitDepth(DepthPolicy p)
    {
        long[] h = Histogram(p);
        long count = h.Sum();
        return count == 0 ? 0 : h.Select((c, e) => (double)c * e).Sum() / count;
    }

    /// <summary>Share of drafted tokens the full model accepted (warm-up included).</summary>
    public double Acceptance(DepthPolicy p)
    {
        var g = Of(p).Generator;
        return g.DraftedTokens == 0 ? 0 : (double)g.AcceptedDrafts / g.DraftedTokens;
    }

    /// <summary>Whether every window's greedy text equalled Full's.</summary>
    public bool Identical(DepthPolicy p) => Of(p).IdenticalWindows == Of(p).Windows;

    /// <summary>Generates from the first tokens of <paramref name="window"/> with every generator, the first one rotating;
    /// without <paramref name="record"/> (the warm-up) nothing is counted.</summary>
    public void Window(ReadOnlySpan<int> window, CancellationToken ct, bool record = true)
    {
        var all = new List<Runner> { _full };
        all.AddRange(_speculative);
        var prompt = window[.._prompt];
        if (!record)
        {
            foreach (var r in all) Generate(new Runner(r.Depth, r.Generator, r.Histogram.Length), prompt, ct);
            return;
        }
        for (int i = 0; i < all.Count; i++) Generate(all[(_round + i) % all.Count], prompt, ct);
        _round++;
        foreach (var s in _speculative)
        {
            s.Windows++;
            if (s.Last.AsSpan().SequenceEqual(_full.Last)) s.IdenticalWindows++;
        }
    }

    /// <summary>The lines under the table that say how the speculative rows were measured.</summary>
    public string Note() =>
        $"speculative rows: nll = full's (identical logits by construction: every output token is verified by the full model); " +
        $"tokens/s from greedy generation ({_prompt}-token prompts, up to the end of each window), speed vs the greedy full generator on the same prompts " +
        $"({FullTokensPerS:F0} tokens/s); greedy text identical to full: " +
        string.Join(", ", _speculative.Select(s => $"{s.Depth} {(s.IdenticalWindows == s.Windows ? "yes" : $"NO ({s.Windows - s.IdenticalWindows} of {s.Windows} windows differ)")}" +
            $" (drafts accepted: {Acceptance(s.Depth):P1})"));

    private void Generate(Runner r, ReadOnlySpan<int> prompt, CancellationToken ct)
    {
        var g = r.Generator;
        g.Reset();
        g.AppendTokens(prompt);
        g.NextToken();   // prefill and the first token: not decode speed
        r.Histogram[Math.Min(g.LastDepth.ExitDepth, r.Histogram.Length - 1)]++;
        while (!g.IsDone)
        {
            ct.ThrowIfCancellationRequested();
            long t0 = Stopwatch.GetTimestamp();
            g.NextToken();
            r.Ticks += Stopwatch.GetTimestamp() - t0;
            r.Tokens++;
            r.Histogram[Math.Min(g.LastDepth.ExitDepth, r.Histogram.Length - 1)]++;
        }
        r.Last = g.Tokens[prompt.Length..].ToArray();
    }

    private Runner Of(DepthPolicy p) => _speculative.First(s => s.Depth == p);

    private static double Speed(Runner r) => r.Ticks > 0 ? r.Tokens / (r.Ticks / (double)Stopwatch.Frequency) : 0;

    public void Dispose()
    {
        _full.Generator.Dispose();
        foreach (var s in _speculative) s.Generator.Dispose();
    }
}
