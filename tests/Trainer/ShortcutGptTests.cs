using EdgeShortcut.Core;
using EdgeShortcut.Trainer.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace EdgeShortcut.Tests.Trainer;

[Collection("Torch")]
public class ShortcutGptTests
{
    [Theory]
    [MemberData(nameof(TinyModels.Names), MemberType = typeof(TinyModels))]
    public void Logits_have_shape_batch_by_time_by_vocab(string name)
    {
        var c = TinyModels.ByName(name);
        using var model = TinyModels.Create(c);
        foreach (int t in new[] { 1, 5, c.ContextLength })
        {
            using var logits = model.forward(TinyModels.Ids(3, t, c.VocabSize, seed: t));
            Assert.Equal(new long[] { 3, t, c.VocabSize }, logits.shape);
        }
        Assert.Throws<ArgumentException>(() => model.forward(TinyModels.Ids(1, c.ContextLength + 1, c.VocabSize, 0)));
    }

    [Theory]
    [MemberData(nameof(TinyModels.Names), MemberType = typeof(TinyModels))]
    public void State_dict_is_exactly_the_tensor_contract(string name)
    {
        var c = TinyModels.ByName(name);
        using var model = TinyModels.Create(c);
        var state = model.state_dict();
        var expected = TensorNames.All(c);
        Assert.Equal(expected.Select(e => e.Name).Order(), state.Keys.Order());
        foreach (var (n, shape) in expected) Assert.Equal(shape.Select(s => (long)s), state[n].shape);
    }

    [Theory]
    [InlineData("shortcut")]
    [InlineData("baseline")]
    [InlineData("subset")]
    public void Changing_a_later_token_changes_no_earlier_logit(string name)
    {
        var c = TinyModels.ByName(name);
        using var model = TinyModels.Create(c);
        using var ids = TinyModels.Ids(2, c.ContextLength, c.VocabSize, seed: 7);
        using var before = model.forward(ids);
        for (int t = 0; t + 1 < c.ContextLength; t++)
        {
            using var changed = ids.clone();
            changed[.., t + 1] = (changed[.., t + 1] + 1) % c.VocabSize;
            using var after = model.forward(changed);
            Assert.True(after[.., ..(t + 1)].allclose(before[.., ..(t + 1)], rtol: 0, atol: 1e-6), $"logits at <= {t} changed");
            Assert.False(after[.., t + 1].allclose(before[.., t + 1], rtol: 0, atol: 1e-6), $"logits at {t + 1} did not change");
        }
    }

    [Fact]
    public void Block_causal_mask_lets_query_t_see_entry_e_iff_its_position_is_at_most_t()
    {
        const int T = 5, S = 3;
        using var mask = ShortcutAttention.BlockCausalMask(T, S);
        Assert.Equal(new long[] { T, T * S }, mask.shape);
        for (int t = 0; t < T; t++)
            for (int e = 0; e < T * S; e++)
                Assert.Equal(e / S <= t, mask[t, e].item<bool>());
    }

    [Fact]
    public void Shortcut_attention_weights_are_zero_exactly_where_tau_exceeds_t_and_sum_to_one()
    {
        var c = TinyModels.Shortcut;
        using var model = TinyModels.Create(c);
        using var w = model.ShortcutAttentionWeights(TinyModels.Ids(2, 6, c.VocabSize, seed: 3));   // [B, H, T, T*S]
        Assert.Equal(new long[] { 2, c.Heads, 6, 6 * c.TapCount }, w.shape);
        var data = w.data<float>().ToArray();
        int n = 6 * c.TapCount;
        for (int row = 0; row < 2 * c.Heads * 6; row++)
        {
            int t = row % 6;
            double sum = 0;
            for (int e = 0; e < n; e++)
            {
                float p = data[row * n + e];
                if (e / c.TapCount <= t) Assert.True(p > 0, $"visible entry {e} of query {t} has weight {p}");
                else Assert.Equal(0f, p);
                sum += p;
            }
            Assert.Equal(1.0, sum, 5);
        }
    }

    [Theory]
    [MemberData(nameof(TinyModels.Names), MemberType = typeof(TinyModels))]
    public void Every_parameter_receives_a_gradient(string name)
    {
        var c = TinyModels.ByName(name);
        using var model = TinyModels.Create(c);
        model.train();
        using var ids = TinyModels.Ids(2, c.ContextLength, c.VocabSize, seed: 5);
        using var targets = TinyModels.Ids(2, c.ContextLength, c.VocabSize, seed: 6);
        using var loss = nn.functional.cross_entropy(model.forward(ids).view(-1, c.VocabSize), targets.view(-1));
        loss.backward();
        foreach (var (n, p) in model.named_parameters())
        {
            Assert.NotNull(p.grad);
            Assert.True(p.grad!.abs().max().item<float>() > 0, $"{n} got a zero gradient");
        }
    }

    [Theory]
    [MemberData(nameof(TinyModels.Names), MemberType = typeof(TinyModels))]
    public void Forward_matches_the_hand_written_format_md_math(string name)
    {
        // The baseline case is "S empty equals a plain GPT": the reference has no shortcut code path then.
        var c = TinyModels.ByName(name);
        using var model = TinyModels.Create(c, seed: 11);
        var weights = ModelWeights.Export(model).ToDictionary(t => t.Name);
        int[] ids = [3, 0, 10, 7, 7, 1, 4, 9];
        using var logits = model.forward(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]));
        var got = logits.data<float>().ToArray();
        var want = Support.ReferenceForward.Logits(c, weights, ids).SelectMany(row => row).ToArray();   // [T * V]
        for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(got[i] - want[i]) < 1e-4, $"logit {i}: {got[i]} vs {want[i]}");
    }

    [Fact]
    public void Baseline_has_plain_gpt_blocks_only()
    {
        var c = TinyModels.Baseline;
        using var model = TinyModels.Create(c);
        var keys = model.state_dict().Keys.ToList();
        Assert.DoesNotContain(keys, k => k.StartsWith("features.") || k.StartsWith("shortcut."));
        Assert.Contains($"blocks.{c.Layers - 1}.attn.qkv.weight", keys);   // the last block is ordinary self-attention
        Assert.Throws<InvalidOperationException>(() => model.ShortcutAttentionWeights(TinyModels.Ids(1, 4, c.VocabSize, 0)));
    }

    [Fact]
    public void Checkpoint_round_trip_gives_identical_logits()
    {
        var c = TinyModels.Shortcut with { TiedEmbeddings = false };
        using var model = TinyModels.Create(c, seed: 4);
        string dir = Path.Combine(Path.GetTempPath(), $"es-ckpt-{Guid.NewGuid():N}");
        try
        {
            ModelCheckpoint.Save(dir, model, new TokenizerSpec(TokenizerSpec.TokenFileKind, c.VocabSize));
            using var loaded = ModelCheckpoint.Load(dir, out var config);
            Assert.Equal(c, config.Model);
            Assert.Equal(TokenizerSpec.TokenFileKind, config.Tokenizer.Kind);
            using var ids = TinyModels.Ids(2, c.ContextLength, c.VocabSize, seed: 9);
            Assert.True(loaded.forward(ids).equal(model.forward(ids)).all().item<bool>());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
