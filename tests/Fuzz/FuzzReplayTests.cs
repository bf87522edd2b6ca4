using EdgeShortcut.Fuzz;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Fuzz;

/// <summary>The fuzzer (tools/Fuzz) in the default test run: a few hundred seeded structured mutations per
/// loader with zero findings (no untyped exception, hang or oversized allocation), and every saved
/// reproducer under tests/Fuzz/Reproducers/TARGET refused with the loader's typed error. The big runs
/// (100,000 cases per loader) are the command in docs/RELIABILITY.md.</summary>
[Collection("Torch")]   // the training-state target restores torch's global RNG state
public sealed class FuzzReplayTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("es-fuzz-test-").FullName;
    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Theory]
    [InlineData("checkpoint", 600)]
    [InlineData("tokens", 600)]
    [InlineData("training-state", 400)]
    [InlineData("optimizer", 400)]
    [InlineData("onnx-managed", 400)]
    [InlineData("onnx-ort", 150)]
    public void Seeded_mutations_find_nothing(string name, int cases)
    {
        using var target = FuzzTargets.Create(name);
        FuzzRunner.Replay(target, target.Seeds, _scratch);   // warm-up (native libraries, JIT): not a case
        var hangs = new List<FuzzFinding>();
        var report = FuzzRunner.Run(target, cases, seed: 12, _scratch, hangs.Add);
        Assert.Equal(cases, report.Cases);
        var findings = report.Findings.Concat(hangs).ToList();
        Assert.True(findings.Count == 0, string.Join("\n", findings.Select(f => $"{f.Kind} at case {f.Case}: {f.Detail}")));
        Assert.True(report.Outcomes.Count >= 2, $"the mutations should both pass and fail the loader: {string.Join(", ", report.Outcomes)}");
    }

    [Theory]
    [InlineData("checkpoint")]
    [InlineData("tokens")]
    [InlineData("training-state")]
    [InlineData("optimizer")]
    [InlineData("onnx-managed")]
    [InlineData("onnx-ort")]
    public void Every_saved_reproducer_is_refused_with_a_typed_error(string name)
    {
        string dir = Path.Combine(RepoPaths.Root(), "tests", "Fuzz", "Reproducers", name);
        string[] files = Directory.GetFiles(dir).Order().ToArray();
        Assert.NotEmpty(files);
        using var target = FuzzTargets.Create(name);
        foreach (string file in files)
        {
            var hangs = new List<FuzzFinding>();
            var report = FuzzRunner.Replay(target, [File.ReadAllBytes(file)], _scratch, hangs.Add);
            Assert.True(report.Findings.Count + hangs.Count == 0, $"{Path.GetFileName(file)}: {string.Join("\n", report.Findings.Concat(hangs).Select(f => f.Detail))}");
            Assert.True(!report.Outcomes.ContainsKey("accepted"), $"{Path.GetFileName(file)} was accepted");
        }
    }

    [Fact]
    public void Each_seed_is_accepted_so_the_mutations_start_from_valid_files()
    {
        foreach (string name in FuzzTargets.Names)
        {
            using var target = FuzzTargets.Create(name);
            var report = FuzzRunner.Replay(target, target.Seeds, _scratch);
            Assert.True(report.Outcomes.Keys.SequenceEqual(["accepted"]), $"{name}: {string.Join(", ", report.Outcomes)}");
        }
    }
}
