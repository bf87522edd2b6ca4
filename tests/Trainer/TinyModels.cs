using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace EdgeShortcut.Tests.Trainer;

/// <summary>TorchSharp uses one global generator and thread pool: tests that touch it run one at a time.</summary>
[CollectionDefinition("Torch", DisableParallelization = true)]
public sealed class TorchCollection;

/// <summary>Tiny seeded configs and models for the trainer tests (d 16, 3 layers, ctx 8).</summary>
internal static class TinyModels
{
    /// <summary>A shortcut config tapping both intermediate layers; every size differs so shape mix-ups fail.</summary>
    public static ModelConfig Shortcut => new()
    {
        VocabSize = 11, ContextLength = 8, Layers = 3, Dim = 16, Heads = 2,
        FeedForwardDim = 24, FeatureDim = 20, Taps = [1, 2],
    };

    /// <summary>Same shape with no taps: the plain GPT baseline.</summary>
    public static ModelConfig Baseline => Shortcut with { Taps = [] };

    /// <summary>All the variants the structural tests sweep.</summary>
    public static TheoryData<string> Names => ["shortcut", "baseline", "subset", "untied"];

    public static ModelConfig ByName(string name) => name switch
    {
        "shortcut" => Shortcut,
        "baseline" => Baseline,
        "subset" => Shortcut with { Layers = 4, Taps = [2] },
        "untied" => Shortcut with { TiedEmbeddings = false },
        _ => throw new ArgumentException(name),
    };

    /// <summary>A model with seeded weights; biases and LayerNorms are randomised too (GPT-2 init
    /// leaves them at 0/1, which would hide a swapped bias or gain).</summary>
    public static ShortcutGpt Create(ModelConfig config, long seed = 1, double dropout = 0)
    {
        torch.manual_seed(seed);
        var model = new ShortcutGpt(config, dropout);
        using (no_grad())
            foreach (var (_, p) in model.named_parameters())
                p.add_(randn_like(p).mul(0.1));
        model.eval();
        return model;
    }

    public static Tensor Ids(int batch, int t, int vocab, long seed) =>
        randint(0, vocab, [batch, t], dtype: ScalarType.Int64, generator: new Generator((ulong)seed));
}
