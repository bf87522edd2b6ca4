using EdgeShortcut.Core;
using EdgeShortcut.Quantize;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;
using EdgeShortcut.Runtime.Onnx;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// Managed engine vs ONNX Runtime's CPU provider on the same exported int8 file (the real graph of
/// src/Quantize), decode from one token to a full context, rounds alternating between the engines.
/// ORT runs with as many intra-op threads as the managed engine uses (the runtime's default, equal
/// threads: the fair comparison) and with one thread (so the calling thread's CPU time is all its
/// compute). Every row names its thread count. Both run with int8 activations. ORT runs through the
/// runtime's own cached loop (OnnxRuntimeSequence), so this measures what an app gets.
/// </summary>
internal static class OrtCompareBench
{
    public static void Run(ModelConfig c, int rounds)
    {
        var (model, _) = OnnxExporter.BuildModel(new CheckpointConfig { Model = c, Tokenizer = new TokenizerSpec(TokenizerSpec.TokenFileKind, c.VocabSize) },
            RandomModel.Weights(c), ExportPrecision.Int8, new string('0', 64));
        string path = Path.Combine(Path.GetTempPath(), $"managed-bench-{Guid.NewGuid():N}.onnx");
        Core.Onnx.OnnxWriter.WriteFile(path, model);
        try
        {
            var file = ModelFile.Read(path);
            using var engine = ManagedBackend.Load(file, ActivationPrecision.Int8);   // ORT's default session: fused int8 MatMulNBits
            using var seq = engine.CreateManagedSequence();
            // The runtime's own ORT loop (OnnxRuntimeSequence), int8 activations like the managed engine here.
            using var ort1 = new OnnxRuntimeBackend(file, BackendKind.Cpu, new EdgeModelOptions { Activations = ActivationPrecision.Int8, Threads = 1 });
            using var ortN = new OnnxRuntimeBackend(file, BackendKind.Cpu, new EdgeModelOptions { Activations = ActivationPrecision.Int8, Threads = engine.Threads });
            using var seq1 = ort1.CreateSequence();
            using var seqN = ortN.CreateSequence();
            string managedName = $"managed, {engine.Threads} threads", equalName = $"ORT CPU, {ortN.Threads} threads (equal)", oneName = $"ORT CPU, {ort1.Threads} thread";
            var results = new Dictionary<string, (List<double> Wall, List<double> Cpu)>
            {
                [managedName] = ([], []), [equalName] = ([], []), [oneName] = ([], []),
            };
            for (int round = 0; round <= rounds; round++)
            {
                var m = CompareBench.DecodeMicrosPerToken(seq, c);
                var o1 = CompareBench.DecodeMicrosPerToken(seq1, c);
                var oN = CompareBench.DecodeMicrosPerToken(seqN, c);
                if (round == 0) continue;
                Add(results[managedName], m);
                Add(results[oneName], o1);
                Add(results[equalName], oN);
            }
            Console.WriteLine($"{(c.IsShortcut ? "shortcut" : "baseline")} L{c.Layers} d{c.Dim} ctx{c.ContextLength}, int8 file from src/Quantize, {rounds} alternating rounds, load average {LoadAverage.Read()}");
            Console.WriteLine();
            Console.WriteLine("| engine | wall us/token (median) | wall tokens/s | thread CPU us/token (median) |");
            Console.WriteLine("|---|---|---|---|");
            foreach (var (name, (wall, cpu)) in results)
            {
                double w = Stats.Median(wall);
                string cpuText = !name.EndsWith(" thread") ? "n/a (several threads)" : $"{Stats.Median(cpu):F1}";
                Console.WriteLine($"| {name} | {w:F1} | {1e6 / w:F0} | {cpuText} |");
            }
        }
        finally { File.Delete(path); }
    }

    private static void Add((List<double> Wall, List<double> Cpu) r, (double Wall, double Cpu) s) { r.Wall.Add(s.Wall); r.Cpu.Add(s.Cpu); }
}
