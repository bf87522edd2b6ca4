using System.Text.Json;
using EdgeShortcut.Core;

namespace EdgeShortcut.Tests.Core;

public class ModelConfigTests
{
    [Fact]
    public void Defaults_tap_every_intermediate_layer_and_validate()
    {
        var c = ModelConfig.Create(layers: 6, dim: 128, heads: 4, contextLength: 256).Validate();
        Assert.Equal([1, 2, 3, 4, 5], c.Taps.ToArray());
        Assert.True(c.IsShortcut);
        Assert.Equal(5, c.SelfAttentionBlocks);
        Assert.Equal(512, c.FeatureDim);
    }

    [Theory]
    [InlineData("n_layer")]
    [InlineData("n_head")]
    [InlineData("taps")]
    [InlineData("d_model")]
    [InlineData("ln_eps")]
    public void Validate_names_the_bad_field(string field)
    {
        var good = ModelConfig.Create(6, 128, 4, 64);
        var bad = field switch
        {
            "n_layer" => good with { Layers = 1, Taps = [] },
            "n_head" => good with { Heads = 3 },
            "taps" => good with { Taps = [0, 6] },
            "d_model" => good with { Dim = 0 },
            _ => good with { LayerNormEps = -1 },
        };
        var e = Assert.Throws<InvalidModelConfigException>(() => bad.Validate());
        Assert.Equal(field, e.Field);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Unsorted_taps_are_rejected()
    {
        var c = ModelConfig.Create(6, 128, 4, 64) with { Taps = [3, 2] };
        Assert.Throws<InvalidModelConfigException>(() => c.Validate());
    }

    [Fact]
    public void Json_round_trip_preserves_the_config_and_uses_snake_case_keys()
    {
        var c = ModelConfig.Create(4, 64, 2, 32) with { Taps = [1, 3], TiedEmbeddings = false };
        string json = JsonSerializer.Serialize(c);
        Assert.Contains("\"n_layer\":4", json);
        Assert.Contains("\"taps\":[1,3]", json);
        Assert.Equal(c, JsonSerializer.Deserialize<ModelConfig>(json));
    }

    [Fact]
    public void Baseline_has_no_feature_or_shortcut_tensors()
    {
        var c = ModelConfig.Create(4, 64, 2, 32, shortcut: false);
        var names = TensorNames.All(c).Select(t => t.Name).ToList();
        Assert.DoesNotContain(names, n => n.StartsWith("features.") || n.StartsWith("shortcut."));
        Assert.Contains("blocks.3.attn.qkv.weight", names);
    }
}
