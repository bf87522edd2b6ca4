using System.Text.Json.Nodes;
using EdgeShortcut.Core;
using EdgeShortcut.Experiments;
using EdgeShortcut.Trainer.Data;

namespace EdgeShortcut.Tests.Experiments;

[Collection("Torch")]
public class SymbolicStreamTests
{
    [Fact]
    public void Records_are_a_plus_b_equals_a_plus_b_mod_p_then_a_separator()
    {
        var s = new SymbolicStreamSpec(Modulus: 7, Tokens: 600, Seed: 1);
        var ids = s.Generate();
        Assert.Equal(10, s.VocabSize);
        for (int r = 0; r + 6 <= ids.Length; r += 6)
        {
            Assert.Equal([7, 8, 9], new[] { ids[r + 1], ids[r + 3], ids[r + 5] }.Select(x => (int)x));
            Assert.Equal((ids[r] + ids[r + 2]) % 7, ids[r + 4]);
        }
        Assert.Equal(7, ids.Where((_, i) => i % 6 == 0).Distinct().Count());   // every number occurs
        Assert.Equal(2 * Math.Log(7) / 6, s.EntropyFloorNats, 12);
    }

    [Fact]
    public void The_token_file_round_trips_through_the_trainers_uint16_reader()
    {
        string path = Path.Combine(Path.GetTempPath(), $"es-sym-{Guid.NewGuid():N}.u16");
        try
        {
            var s = new SymbolicStreamSpec(97, 1000, 4);
            s.WriteTokenFile(path);
            Assert.Equal(2000, new FileInfo(path).Length);
            var corpus = TokenCorpus.Load(path, new TokenizerSpec(TokenizerSpec.TokenFileKind, s.VocabSize));
            Assert.Equal(s.Generate(), corpus.Tokens);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_generated_stream_sweep_trains_end_to_end_and_reports_nats_per_token()
    {
        using var t = new TempSweep();
        var spec = TempSweep.Spec();
        spec.Remove("data");
        spec["generate"] = new JsonObject { ["kind"] = "modular-sum", ["modulus"] = 11, ["tokens"] = 6000, ["seed"] = 2 };
        spec["token_vocab"] = 14;
        spec["seeds"] = new JsonArray(1);
        t.WriteSpec(spec);
        var runner = t.Runner();
        Assert.All(runner.Run(), o => Assert.True(o.Finished));
        var arms = SweepReport.Write(t.Load(), runner.Plan(), t.OutDir);
        Assert.Equal(2, arms.Count);
        Assert.All(arms, a => Assert.InRange(a.Final.Mean, 0.1, Math.Log(14) + 0.5));
        Assert.Contains("nats/token", File.ReadAllText(Path.Combine(t.OutDir, "report", "summary.md")));
        Assert.Equal(14, runner.Plan()[0].Options.ModelConfig().VocabSize);
    }
}
