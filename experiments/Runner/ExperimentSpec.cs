using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeShortcut.Trainer.Training;

namespace EdgeShortcut.Experiments;

/// <summary>One arm of a sweep: a name and the <see cref="TrainingOptions"/> fields it overrides
/// (JSON names, e.g. <c>{"shortcut": false, "layers": 9}</c>) on top of the spec's <c>base</c>.</summary>
/// <param name="Name">Arm name (a directory name: letters, digits, '-', '_', '.').</param>
/// <param name="Overrides">Option fields of this arm.</param>
/// <param name="Note">Free text shown in the table (e.g. "equal parameters: deeper").</param>
public sealed record ArmSpec(string Name, JsonObject Overrides, string Note);

/// <summary>
/// A sweep description (experiments/*.json): one corpus, shared training settings (<c>base</c>), the
/// arms and the seeds. Every arm x seed becomes one run with the same corpus, split and schedule; only
/// the arm's overrides and the seed differ. Paths in the file are relative to the file.
/// <code>
/// { "name": "...", "data": "../x.txt" | "generate": {...}, "token_vocab": null, "val_tokens": 16384,
///   "seeds": [1,2,3], "reference": "gpt-deep", "base": { "layers": 6, ... },
///   "arms": [ { "name": "shortcut", "note": "...", "options": { "shortcut": true } }, ... ] }
/// </code>
/// </summary>
public sealed record ExperimentSpec
{
    /// <summary>Sweep name (table title).</summary>
    public required string Name { get; init; }
    /// <summary>Corpus path (absolute), or null when <see cref="Generate"/> produces it.</summary>
    public string? DataPath { get; init; }
    /// <summary>A generated token stream instead of a file.</summary>
    public SymbolicStreamSpec? Generate { get; init; }
    /// <summary>Declared vocab of a uint16 token corpus; null = bytes.</summary>
    public int? TokenVocab { get; init; }
    /// <summary>When set, training uses the first 90% of the corpus and validation the first this-many
    /// tokens of the last 10% (a smaller, fixed validation set makes frequent evaluation affordable).
    /// Null = the trainer's own split (all of the last 10%).</summary>
    public int? ValTokens { get; init; }
    /// <summary>Seeds; every arm runs once per seed.</summary>
    public required IReadOnlyList<long> Seeds { get; init; }
    /// <summary>Arm the others are compared with (null = no comparison column).</summary>
    public string? Reference { get; init; }
    /// <summary>Option fields shared by all arms.</summary>
    public required JsonObject Base { get; init; }
    /// <summary>The arms, in table order.</summary>
    public required IReadOnlyList<ArmSpec> Arms { get; init; }

    /// <summary>Reads and checks a spec file; throws <see cref="SpecException"/> naming the file and field.</summary>
    public static ExperimentSpec Load(string path)
    {
        if (!File.Exists(path)) throw new SpecException(path, "file not found");
        JsonObject root;
        try { root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new SpecException(path, "the top level must be a JSON object"); }
        catch (JsonException e) { throw new SpecException(path, $"not valid JSON: {e.Message}"); }
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string? Rel(string? p) => p is null ? null : Path.GetFullPath(Path.Combine(dir, p));

        var known = new HashSet<string> { "name", "data", "generate", "token_vocab", "val_tokens", "seeds", "reference", "base", "arms" };
        foreach (var (key, _) in root)
            if (!known.Contains(key)) throw new SpecException(path, $"unknown field '{key}' (known: {string.Join(", ", known)})");

        var arms = new List<ArmSpec>();
        foreach (var node in root["arms"] as JsonArray ?? throw new SpecException(path, "'arms' must be a non-empty array"))
        {
            if (node is not JsonObject a) throw new SpecException(path, "each entry of 'arms' must be an object");
            string name = a["name"]?.GetValue<string>() ?? throw new SpecException(path, "every arm needs a 'name'");
            if (name.Length == 0 || name.Any(ch => !(char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.')))
                throw new SpecException(path, $"arm name '{name}' must be letters, digits, '-', '_' or '.' (it names a directory)");
            if (arms.Any(x => x.Name == name)) throw new SpecException(path, $"arm name '{name}' appears twice");
            var overrides = (a["options"] as JsonObject)?.DeepClone() as JsonObject ?? [];
            arms.Add(new ArmSpec(name, overrides, a["note"]?.GetValue<string>() ?? ""));
        }
        var spec = new ExperimentSpec
        {
            Name = root["name"]?.GetValue<string>() ?? Path.GetFileNameWithoutExtension(path),
            DataPath = Rel(root["data"]?.GetValue<string>()),
            Generate = root["generate"] is JsonObject g ? SymbolicStreamSpec.FromJson(g, path) : null,
            TokenVocab = root["token_vocab"]?.GetValue<int>(),
            ValTokens = root["val_tokens"]?.GetValue<int>(),
            Seeds = (root["seeds"] as JsonArray)?.Select(s => s!.GetValue<long>()).ToList() ?? throw new SpecException(path, "'seeds' must be an array of integers"),
            Reference = root["reference"]?.GetValue<string>(),
            Base = (root["base"] as JsonObject)?.DeepClone() as JsonObject ?? [],
            Arms = arms,
        };
        return spec.Check(path);
    }

    private ExperimentSpec Check(string path)
    {
        if (Arms.Count == 0) throw new SpecException(path, "'arms' must be a non-empty array");
        if (Seeds.Count == 0 || Seeds.Distinct().Count() != Seeds.Count) throw new SpecException(path, "'seeds' must be a non-empty list of distinct integers");
        if ((DataPath is null) == (Generate is null)) throw new SpecException(path, "give exactly one of 'data' and 'generate'");
        if (Generate is not null && TokenVocab != Generate.VocabSize)
            throw new SpecException(path, $"'token_vocab' must equal the generated stream's vocab ({Generate.VocabSize})");
        if (ValTokens is < 2) throw new SpecException(path, "'val_tokens' must be >= 2");
        if (Reference is not null && Arms.All(a => a.Name != Reference)) throw new SpecException(path, $"'reference' names no arm: '{Reference}'");
        foreach (var field in new[] { "data", "val_data", "out", "seed", "token_vocab" })
            if (Base.ContainsKey(field) || Arms.Any(a => a.Overrides.ContainsKey(field)))
                throw new SpecException(path, $"option '{field}' is set by the runner, not by 'base' or an arm");
        foreach (var arm in Arms)
        {
            try { Options(arm, Seeds[0], "check", "check.txt", null); }
            catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
            { throw new SpecException(path, $"arm '{arm.Name}': {e.Message}"); }
        }
        return this;
    }

    /// <summary>The run of <paramref name="arm"/> with <paramref name="seed"/>: base + arm overrides,
    /// then the runner-owned fields (data, validation data, vocab, run directory, seed). Validated.</summary>
    public TrainingOptions Options(ArmSpec arm, long seed, string outDir, string dataPath, string? valPath)
    {
        var merged = (JsonObject)Base.DeepClone();
        foreach (var (key, value) in arm.Overrides) merged[key] = value?.DeepClone();
        var o = merged.Deserialize<TrainingOptions>(new JsonSerializerOptions { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow })
            ?? throw new JsonException("options must be an object");
        return (o with { DataPath = dataPath, ValDataPath = valPath, TokenVocab = TokenVocab, OutDir = outDir, Seed = seed }).Validate();
    }
}

/// <summary>A malformed experiment spec; the message names the file and the field.</summary>
public sealed class SpecException(string path, string message) : Exception($"{path}: {message}")
{
    /// <summary>The spec file.</summary>
    public string SpecPath { get; } = path;
}
