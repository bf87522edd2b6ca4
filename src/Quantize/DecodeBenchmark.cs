using System.Diagnostics;
using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace EdgeShortcut.Quantize;

/// <summary>Timings of one ONNX file on the ORT CPU provider.</summary>
/// <param name="PrefillMs">Median time of one uncached prefill of <paramref name="PrefillTokens"/> tokens.</param>
/// <param name="PrefillTokens">Prompt length used for the prefill timing.</param>
/// <param name="DecodeMsPerToken">Median time of one T = 1 decode step, over steps at P = 1..n_ctx-1.</param>
/// <param name="Threads">Intra-op threads.</param>
public sealed record DecodeTiming(double PrefillMs, int PrefillTokens, double DecodeMsPerToken, int Threads)
{
    /// <summary>Decode throughput.</summary>
    public double TokensPerSecond => 1000 / DecodeMsPerToken;
}

/// <summary>
/// Measures ORT CPU prefill and per-token decode time of an exported model, the way a runtime would
/// drive it: each step's present caches (OrtValues) are fed straight back as the next past, no copies.
/// </summary>
public static class DecodeBenchmark
{
    /// <summary>Runs <paramref name="rounds"/> full generations (prefill of n_ctx/2 tokens, then decode
    /// to n_ctx) after one warm-up round and returns the medians.</summary>
    public static DecodeTiming Run(string path, int threads, int rounds)
    {
        var config = OnnxMetadata.Read(OnnxReader.ReadFile(path).Metadata(), path).Model;
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        using var session = new InferenceSession(path, options);
        using var runOptions = new RunOptions();
        string[] pastNames = session.InputNames.Where(n => n.StartsWith("past_", StringComparison.Ordinal)).ToArray();
        string[] inputNames = ["input_ids", .. pastNames];
        string[] outputNames = ["logits", .. pastNames.Select(n => "present_" + n["past_".Length..])];
        int n = config.ContextLength, prompt = Math.Max(1, n / 2);
        var prefill = new List<double>();
        var decode = new List<double>();
        var rng = new Random(1);
        for (int round = 0; round <= rounds; round++)
        {
            // Prefill timing: n_ctx/2 tokens from empty caches.
            using (var empty = new DisposableList(pastNames.Select(_ => OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, config.Heads, 0, config.HeadDim]))))
            using (var ids = OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, prompt).Select(_ => (long)rng.Next(config.VocabSize)).ToArray(), [1, prompt]))
            {
                long t0 = Stopwatch.GetTimestamp();
                using var r = session.Run(runOptions, inputNames, [ids, .. empty.Items], outputNames);
                if (round > 0) prefill.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            // Decode timing: one token at a time from P = 0 to n_ctx - 1, present fed back as past.
            IDisposableReadOnlyCollection<OrtValue>? previous = null;
            var empties = new DisposableList(pastNames.Select(_ => OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, config.Heads, 0, config.HeadDim])));
            var token = new long[1];
            using var tokenValue = OrtValue.CreateTensorValueFromMemory(token, [1, 1]);
            for (int p = 0; p < n; p++)
            {
                token[0] = rng.Next(config.VocabSize);
                IReadOnlyList<OrtValue> past = previous is null ? empties.Items : previous.Skip(1).ToList();
                long t0 = Stopwatch.GetTimestamp();
                var r = session.Run(runOptions, inputNames, [tokenValue, .. past], outputNames);
                double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                if (round > 0 && p > 0) decode.Add(ms);
                previous?.Dispose();
                previous = r;
            }
            previous?.Dispose();
            empties.Dispose();
        }
        return new DecodeTiming(Median(prefill), prompt, Median(decode), threads);
    }

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs.Count == 0 ? double.NaN : xs[xs.Count / 2];
    }

    private sealed class DisposableList(IEnumerable<OrtValue> items) : IDisposable
    {
        public List<OrtValue> Items { get; } = items.ToList();
        public void Dispose() { foreach (var v in Items) v.Dispose(); }
    }
}
