using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeShortcut.Core;

namespace EdgeShortcut.Tests.Core;

/// <summary><c>exit_depths</c> of <see cref="ModelConfig"/>: validation, helpers and old files.</summary>
public class ExitDepthsConfigTests
{
    private static readonly ModelConfig Good = ModelConfig.Create(6, 32, 2, 16);   // taps 1..5, full depth 5

    [Theory]
    [InlineData("0", "1..4")]                 // below the first trunk block
    [InlineData("5", "1..4")]                 // the full depth is implicit
    [InlineData("6", "1..4")]
    [InlineData("3,2", "strictly increasing")]
    [InlineData("2,2", "strictly increasing")]
    public void Bad_exit_depths_are_refused_naming_the_field(string depths, string rule)
    {
        var c = Good with { ExitDepths = [.. depths.Split(',').Select(int.Parse)] };
        var e = Assert.Throws<InvalidModelConfigException>(() => c.Validate());
        Assert.Equal("exit_depths", e.Field);
        Assert.Contains("exit_depths", e.Message);
        Assert.Contains(rule, e.Message);
    }

    [Fact]
    public void An_exit_needs_a_tap_at_or_below_it_and_a_shortcut_model()
    {
        var noTap = Good with { Taps = [3, 4, 5], ExitDepths = [2] };
        Assert.Contains("tapped layer", Assert.Throws<InvalidModelConfigException>(() => noTap.Validate()).Message);
        Assert.True((Good with { Taps = [3, 4, 5], ExitDepths = [3] }).Validate().IsExit(3));
        var baseline = ModelConfig.Create(6, 32, 2, 16, shortcut: false) with { ExitDepths = [2] };
        var e = Assert.Throws<InvalidModelConfigException>(() => baseline.Validate());
        Assert.Equal("exit_depths", e.Field);
        Assert.Contains("shortcut", e.Message);
    }

    [Fact]
    public void All_exits_are_the_listed_depths_then_the_full_depth()
    {
        var c = (Good with { ExitDepths = [2, 4] }).Validate();
        Assert.Equal([2, 4, 5], c.AllExits.ToArray());
        Assert.Equal([false, false, true, false, true, true], Enumerable.Range(0, 6).Select(c.IsExit).ToArray());
        Assert.Equal([5], Good.AllExits.ToArray());
        Assert.True(Good.IsExit(5));
        Assert.False(Good.IsExit(2));
    }

    [Fact]
    public void Exit_depths_round_trip_through_json_and_take_part_in_equality()
    {
        var c = Good with { ExitDepths = [1, 3] };
        string json = JsonSerializer.Serialize(c);
        Assert.Contains("\"exit_depths\":[1,3]", json);
        var back = JsonSerializer.Deserialize<ModelConfig>(json)!;
        Assert.Equal(c, back);
        Assert.Equal(c.GetHashCode(), back.GetHashCode());
        Assert.NotEqual(Good, c);
    }

    [Fact]
    public void An_old_config_without_exit_depths_loads_as_empty()
    {
        var node = JsonNode.Parse(JsonSerializer.Serialize(Good))!.AsObject();
        Assert.True(node.Remove("exit_depths"));
        var old = JsonSerializer.Deserialize<ModelConfig>(node.ToJsonString())!.Validate();
        Assert.True(old.ExitDepths.IsEmpty);
        Assert.Equal(Good, old);
        Assert.Equal([5], old.AllExits.ToArray());
    }

    [Fact]
    public void An_old_checkpoint_config_json_without_exit_depths_loads()
    {
        string dir = Directory.CreateTempSubdirectory("es-oldcfg-").FullName;
        try
        {
            // config.json exactly as written before exit_depths existed.
            File.WriteAllText(Path.Combine(dir, Checkpoint.ConfigFile), """
                {"format": "edgeshortcut-checkpoint", "format_version": 1,
                 "model": {"vocab_size": 256, "n_ctx": 16, "n_layer": 3, "d_model": 16, "n_head": 2, "d_ff": 32,
                           "taps": [1, 2], "d_feature": 32, "tied_embeddings": true, "ln_eps": 1e-05},
                 "tokenizer": {"kind": "byte", "vocab_size": 256}}
                """);
            var config = Checkpoint.ReadConfig(dir);
            Assert.True(config.Model.ExitDepths.IsEmpty);
            Assert.Equal([1, 2], config.Model.Taps.ToArray());
        }
        finally { Directory.Delete(dir, true); }
    }
}
