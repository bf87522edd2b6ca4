using System.Text.Json.Nodes;
using EdgeShortcut.Experiments;

namespace EdgeShortcut.Tests.Experiments;

public class ExperimentSpecTests
{
    [Fact]
    public void An_arm_overrides_the_base_and_the_runner_owns_data_seed_and_run_directory()
    {
        using var t = new TempSweep();
        var spec = TempSweep.Spec();
        spec["arms"]!.AsArray().Add(new JsonObject { ["name"] = "narrow", ["options"] = new JsonObject { ["feature_dim"] = 8, ["taps"] = new JsonArray(2) } });
        t.WriteSpec(spec);
        var s = t.Load();
        var o = s.Options(s.Arms[2], 7, "dir", "train.txt", "val.txt");
        Assert.Equal((3, 16, 6, 7L, "dir", "train.txt", "val.txt"), (o.Layers, o.Dim, o.Steps, o.Seed, o.OutDir, o.DataPath, o.ValDataPath));
        Assert.Equal(8, o.ModelConfig().FeatureDim);
        Assert.Equal([2], o.ModelConfig().Taps.ToArray());
        Assert.Equal(Path.Combine(t.Dir, "corpus.txt"), s.DataPath);   // relative to the spec file
    }

    [Theory]
    [InlineData("top", "unknown field 'epochs'")]
    [InlineData("seed-in-arm", "option 'seed' is set by the runner")]
    [InlineData("typo-option", "arm 'sc'")]
    [InlineData("bad-value", "--heads")]
    [InlineData("reference", "'reference' names no arm: 'nope'")]
    [InlineData("dup-arm", "arm name 'sc' appears twice")]
    [InlineData("no-data", "give exactly one of 'data' and 'generate'")]
    public void A_bad_spec_is_refused_with_the_file_and_the_field(string defect, string expected)
    {
        using var t = new TempSweep();
        var spec = TempSweep.Spec();
        var sc = (JsonObject)spec["arms"]![0]!;
        switch (defect)
        {
            case "top": spec["epochs"] = 3; break;
            case "seed-in-arm": sc["options"]!["seed"] = 5; break;
            case "typo-option": sc["options"]!["layerz"] = 5; break;
            case "bad-value": sc["options"]!["dim"] = 15; break;   // not divisible by 2 heads
            case "reference": spec["reference"] = "nope"; break;
            case "dup-arm": spec["arms"]!.AsArray().Add(new JsonObject { ["name"] = "sc" }); break;
            case "no-data": spec.Remove("data"); break;
        }
        t.WriteSpec(spec);
        var e = Assert.Throws<SpecException>(() => t.Load());
        Assert.Contains(t.SpecPath, e.Message);
        Assert.Contains(expected, e.Message);
    }
}
