using System.Text.Json.Nodes;
using EdgeShortcut.Experiments;

namespace EdgeShortcut.Tests.Experiments;

/// <summary>A temp directory with a small text corpus and a tiny sweep spec (2 arms x 2 seeds, 6 steps
/// of a 3-layer d 16 model), deleted on dispose.</summary>
internal sealed class TempSweep : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), $"es-exp-{Guid.NewGuid():N}");
    public string SpecPath => Path.Combine(Dir, "spec.json");
    public string OutDir => Path.Combine(Dir, "out");

    public TempSweep()
    {
        Directory.CreateDirectory(Dir);
        var rng = new Random(3);
        string[] words = ["to ", "be ", "or ", "not ", "that ", "is ", "the ", "question. ", "\n"];
        var sb = new System.Text.StringBuilder();
        while (sb.Length < 6000) sb.Append(words[rng.Next(words.Length)]);
        File.WriteAllText(Path.Combine(Dir, "corpus.txt"), sb.ToString());
        WriteSpec(Spec());
    }

    /// <summary>The default tiny spec; tests edit it and write it back.</summary>
    public static JsonObject Spec() => new()
    {
        ["name"] = "tiny", ["data"] = "corpus.txt", ["val_tokens"] = 400, ["seeds"] = new JsonArray(1, 2), ["reference"] = "gpt",
        ["base"] = new JsonObject
        {
            ["layers"] = 3, ["dim"] = 16, ["heads"] = 2, ["context"] = 16, ["steps"] = 6, ["batch"] = 4, ["warmup"] = 2,
            ["lr"] = 0.003, ["min_lr"] = 0.0003, ["eval_every"] = 3, ["dropout"] = 0.1, ["threads"] = 1,
        },
        ["arms"] = new JsonArray(
            new JsonObject { ["name"] = "sc", ["note"] = "shortcut", ["options"] = new JsonObject { ["shortcut"] = true } },
            new JsonObject { ["name"] = "gpt", ["options"] = new JsonObject { ["shortcut"] = false } }),
    };

    public void WriteSpec(JsonObject spec) => File.WriteAllText(SpecPath, spec.ToJsonString());

    public ExperimentSpec Load() => ExperimentSpec.Load(SpecPath);

    public SweepRunner Runner() => new(Load(), OutDir);

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
