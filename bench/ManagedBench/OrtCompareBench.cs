using System.Diagnostics;
using System.Numerics.Tensors;
using EdgeShortcut.Core;
using EdgeShortcut.Quantize;
using EdgeShortcut.Runtime.Managed;
using Microsoft.ML.OnnxRuntime;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// Managed engine vs ONNX Runtime's CPU provider on the same exported int8 file (the real graph of
/// src/Quantize), decode from one token to a full context, rounds alternating between the engines.
/// ORT runs with one intra-op thread (so the calling thread's CPU time is all its compute) and with
/// its default thread count (wall time only). Both run with int8 activations (ORT's default session options). Present caches are fed back as past OrtValues, no copies.
/// </summary>
internal static class OrtCompareBench
{
    public static void Run(ModelConfig c, int rounds)
    {
        var rng = new Random(1);
        var weights = TensorNames.All(c).ToDictionary(t => t.Name, t => new NamedTensor(t.Name, t.Shape,
            [.. Enumerable.Range(0, t.Shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)((rng.NextDouble() * 2 - 1) / Math.Sqrt(t.Shape[^1])))]));
        var (model, _) = OnnxExporter.BuildModel(new CheckpointConfig { Model = c, Tokenizer = new TokenizerSpec(TokenizerSpec.TokenFileKind, c.VocabSize) },
            weights, ExportPrecision.Int8, new string('0', 64));
        string path = Path.Combine(Path.GetTempPath(), $"managed-bench-{Guid.NewGuid():N}.onnx");
        Core.Onnx.OnnxWriter.WriteFile(path, model);
        try
        {
            using var engine = ManagedBackend.Load(path, Runtime.ActivationPrecision.Int8);   // ORT's default session: fused int8 MatMulNBits
            using var seq = engine.CreateManagedSequence();
            using var ort1 = new OrtDecoder(path, c, threads: 1);
            using var ortN = new OrtDecoder(path, c, threads: 0);
            var results = new Dictionary<string, (List<double> Wall, List<double> Cpu)>
            {
                ["managed"] = ([], []), ["ORT CPU, 1 thread"] = ([], []), ["ORT CPU, default threads"] = ([], []),
            };
            for (int round = 0; round <= rounds; round++)
            {
                var m = CompareBench.DecodeMicrosPerToken(seq, c);
                var o1 = ort1.DecodeMicrosPerToken();
                var oN = ortN.DecodeMicrosPerToken();
                if (round == 0) continue;
                Add(results["managed"], m);
                Add(results["ORT CPU, 1 thread"], o1);
                Add(results["ORT CPU, default threads"], oN);
            }
            Console.WriteLine($"{(c.IsShortcut ? "shortcut" : "baseline")} L{c.Layers} d{c.Dim} ctx{c.ContextLength}, int8 file from src/Quantize, {rounds} alternating rounds");
            Console.WriteLine();
            Console.WriteLine("| engine | wall us/token (median) | wall tokens/s | thread CPU us/token (median) |");
            Console.WriteLine("|---|---|---|---|");
            foreach (var (name, (wall, cpu)) in results)
            {
                double w = DecodeBench.Median(wall);
                string cpuText = name.Contains("default") ? "n/a (several threads)" : $"{DecodeBench.Median(cpu):F1}";
                Console.WriteLine($"| {name} | {w:F1} | {1e6 / w:F0} | {cpuText} |");
            }
        }
        finally { File.Delete(path); }
    }

    private static void Add((List<double> Wall, List<double> Cpu) r, (double Wall, double Cpu) s) { r.Wall.Add(s.Wall); r.Cpu.Add(s.Cpu); }

    /// <summary>Greedy decode through an ORT session, caches fed back as OrtValues.</summary>
    private sealed class OrtDecoder : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly ModelConfig _c;
        private readonly string[] _inputs, _outputs;
        private readonly RunOptions _run = new();

        public OrtDecoder(string path, ModelConfig c, int threads)
        {
            _c = c;
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
            if (threads > 0) { options.IntraOpNumThreads = threads; options.InterOpNumThreads = 1; }
            _session = new InferenceSession(path, options);
            var past = _session.InputNames.Where(n => n.StartsWith("past_", StringComparison.Ordinal)).ToArray();
            _inputs = ["input_ids", .. past];
            _outputs = ["logits", .. past.Select(n => "present_" + n["past_".Length..])];
        }

        public (double Wall, double Cpu) DecodeMicrosPerToken()
        {
            var token = new long[1];
            using var tokenValue = OrtValue.CreateTensorValueFromMemory(token, [1, 1]);
            var empties = _inputs.Skip(1).Select(_ => OrtValue.CreateTensorValueFromMemory(Array.Empty<float>(), [1, _c.Heads, 0, _c.HeadDim])).ToList();
            token[0] = 7;
            var previous = _session.Run(_run, _inputs, [tokenValue, .. empties], _outputs);
            long start = Stopwatch.GetTimestamp();
            double cpu0 = ThreadClock.Seconds();
            for (int p = 1; p < _c.ContextLength; p++)
            {
                token[0] = TensorPrimitives.IndexOfMax(previous[0].GetTensorDataAsSpan<float>());
                var next = _session.Run(_run, _inputs, [tokenValue, .. previous.Skip(1)], _outputs);
                previous.Dispose();
                previous = next;
            }
            double cpu = (ThreadClock.Seconds() - cpu0) * 1e6 / (_c.ContextLength - 1);
            double wall = Stopwatch.GetElapsedTime(start).TotalMicroseconds / (_c.ContextLength - 1);
            previous.Dispose();
            foreach (var e in empties) e.Dispose();
            return (wall, cpu);
        }

        public void Dispose() { _session.Dispose(); _run.Dispose(); }
    }
}
