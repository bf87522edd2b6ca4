using System.Text.Json;
using EdgeShortcut.Core;
using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.ManagedBench;

/// <summary>
/// The size sweep's results: one row per model and contender (medians over the measured runs), a
/// summary per model with the issue's ratios, and one JSON line with everything.
/// </summary>
internal sealed class SweepReport(int threads)
{
    /// <summary>One contender on one model.</summary>
    private sealed record Row(string Model, long Parameters, long FileBytes, long WeightBytes, double ReadGBs, string Load,
        string Backend, string Activations, int Threads, double First, double Last, double Whole, double PrefillMs,
        double AllocPerToken, double BytesPerToken, LoadProbe.Result? LoadProbe)
    {
        public double AchievedGBs => BytesPerToken * Whole / 1e9;
    }

    private readonly List<Row> _rows = [];

    /// <summary>Adds the contenders of one model (medians of their runs).</summary>
    public void Add(ModelConfig c, long fileBytes, long weightBytes, double readGBs, string load, IReadOnlyList<SweepContender> contenders, IReadOnlyList<LoadProbe.Result?> loads)
    {
        string model = $"d{c.Dim}/L{c.Layers} {(c.IsShortcut ? $"shortcut taps {{{string.Join(",", c.Taps)}}} m=d" : "plain")}";
        for (int i = 0; i < contenders.Count; i++)
        {
            var k = contenders[i];
            double cacheValueBytes = LayerCache.SlotBytes(c.Dim, c.Heads, k.Cache) / (2.0 * c.Dim);   // per cached value, scales included
            double bytes = Enumerable.Range(1, SweepContender.DecodeSteps).Average(p => SizeSweep.BytesPerToken(c, weightBytes, p, cacheValueBytes));
            _rows.Add(new Row(model, TensorNames.ParameterCount(c), fileBytes, weightBytes, readGBs, load, k.Backend,
                k.Activations.ToString().ToLowerInvariant(), k.Engine.Threads, Stats.Median(k.First), Stats.Median(k.Last),
                Stats.Median(k.Whole), Stats.Median(k.PrefillMs), Stats.Median(k.AllocPerToken), bytes, loads[i]));
        }
        Console.Error.WriteLine($"  measured {model} (load average {load})");
    }

    /// <summary>Prints both tables and the JSON line.</summary>
    public void Print(string startLoad, string endLoad)
    {
        Console.WriteLine();
        Console.WriteLine("| model | params | backend | activations | threads | decode tok/s 1-32 | 224-255 | late/early | prefill 256 ms | GB/s (weights + cache) | % of read BW | load ms | RSS MB (runtime alone) | alloc B/token |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in _rows)
            Console.WriteLine($"| {r.Model} | {r.Parameters / 1e6:F1}M | {r.Backend} | {r.Activations} | {r.Threads} | {r.First:F0} | {r.Last:F0} | {r.Last / r.First:F2} | " +
                $"{r.PrefillMs:F1} | {r.AchievedGBs:F1} | {100 * r.AchievedGBs / r.ReadGBs:F0}% | {(r.LoadProbe is { } l ? $"{l.LoadMs:F0}" : "-")} | " +
                $"{(r.LoadProbe is { } m ? $"{m.RssBytes / 1e6:F0} ({m.RssBeforeBytes / 1e6:F0})" : "-")} | {r.AllocPerToken:F0} |");

        Console.WriteLine();
        Console.WriteLine("| model | int8 weights MB | read BW GB/s | load avg | decode: best managed / best ORT | managed int8 / float32 | prefill: best ORT ms / best managed ms | best managed % of read BW | managed late/early (f32, int8) | with bfloat16 caches: late/early (f32, int8), decode vs float32 caches (f32, int8) | with int8 caches: the same |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var g in _rows.Where(r => r.Threads == threads).GroupBy(r => r.Model))
        {
            var managed = g.Where(r => r.Backend.StartsWith("managed", StringComparison.Ordinal)).ToList();
            var ort = g.Where(r => r.Backend == "ort-cpu").ToList();
            var bestManaged = managed.MaxBy(r => r.Whole)!;
            var f32 = managed.First(r => r.Backend == "managed" && r.Activations == "float32");
            var i8 = managed.First(r => r.Backend == "managed" && r.Activations == "int8");
            string OtherCache(string backend)
            {
                var rows = managed.Where(r => r.Backend == backend).ToList();
                return rows.Count == 0 ? "-" : string.Join(", ", rows.Select(r => $"{r.Last / r.First:F2}")) + "; " +
                    string.Join(", ", rows.Select(r => $"{r.Whole / managed.First(m => m.Backend == "managed" && m.Activations == r.Activations).Whole:F2}x"));
            }
            Console.WriteLine($"| {g.Key} | {g.First().WeightBytes / 1e6:F1} | {g.First().ReadGBs:F1} | {g.First().Load} | " +
                $"{bestManaged.Whole / ort.Max(r => r.Whole):F2}x ({bestManaged.Activations}{bestManaged.Backend switch { "managed" => "", "managed-bf16kv" => ", bf16 cache", _ => ", int8 cache" }}) | {i8.Whole / f32.Whole:F2}x | " +
                $"{ort.Min(r => r.PrefillMs) / managed.Min(r => r.PrefillMs):F2}x | {100 * bestManaged.AchievedGBs / bestManaged.ReadGBs:F0}% | " +
                $"{f32.Last / f32.First:F2}, {i8.Last / i8.First:F2} | {OtherCache("managed-bf16kv")} | {OtherCache("managed-int8kv")} |");
        }

        if (_rows.Any(r => r.Threads != threads))
        {
            Console.WriteLine();
            Console.WriteLine($"| model | contender | decode tok/s at {threads} threads | at 1 thread | {threads} threads / 1 thread | prefill ms at {threads} / at 1 |");
            Console.WriteLine("|---|---|---|---|---|---|");
            foreach (var r in _rows.Where(r => r.Threads == threads))
            {
                var one = _rows.First(o => o.Model == r.Model && o.Backend == r.Backend && o.Activations == r.Activations && o.Threads == 1);
                Console.WriteLine($"| {r.Model} | {r.Backend} {r.Activations} | {r.Whole:F0} | {one.Whole:F0} | {r.Whole / one.Whole:F2}x | {r.PrefillMs:F1} / {one.PrefillMs:F1} |");
            }
        }

        var json = new
        {
            sweep = "size", threads, load_average_start = startLoad, load_average_end = endLoad, utc = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            cpu = CpuFeatures.Current.ToString(),
            rows = _rows.Select(r => new
            {
                model = r.Model, parameters = r.Parameters, file_bytes = r.FileBytes, weight_bytes_per_token = r.WeightBytes, read_gb_s = Math.Round(r.ReadGBs, 2),
                load_average = r.Load, backend = r.Backend, activations = r.Activations, threads = r.Threads,
                decode_first32_tokens_per_s = Math.Round(r.First, 1), decode_last32_tokens_per_s = Math.Round(r.Last, 1), decode_tokens_per_s = Math.Round(r.Whole, 1),
                prefill256_ms = Math.Round(r.PrefillMs, 2), achieved_gb_s = Math.Round(r.AchievedGBs, 2), alloc_bytes_per_token = Math.Round(r.AllocPerToken, 1),
                load_ms = r.LoadProbe?.LoadMs, rss_bytes = r.LoadProbe?.RssBytes, rss_runtime_bytes = r.LoadProbe?.RssBeforeBytes,
            }),
        };
        Console.WriteLine(JsonSerializer.Serialize(json));
    }
}
