using System.Globalization;
using EdgeShortcut.Core;
using EdgeShortcut.Experiments;

namespace EdgeShortcut.Tests.Experiments;

[Collection("Torch")]
public class SweepReportTests
{
    [Fact]
    public void The_report_has_one_row_per_arm_with_params_tokens_and_the_seed_mean_and_spread()
    {
        using var t = new TempSweep();
        var runner = t.Runner();
        runner.Run();
        var arms = SweepReport.Write(t.Load(), runner.Plan(), t.OutDir);

        string dir = Path.Combine(t.OutDir, "report");
        var runs = File.ReadAllLines(Path.Combine(dir, "runs.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(4, runs.Count);
        var summary = File.ReadAllLines(Path.Combine(dir, "summary.csv"));
        var header = summary[0].Split(',');
        int Col(string name) => Array.IndexOf(header, name);
        Assert.Equal(3, summary.Length);

        foreach (var row in summary.Skip(1).Select(l => l.Split(',')))
        {
            string arm = row[Col("arm")];
            var options = runner.Plan().First(r => r.Arm.Name == arm).Options;
            Assert.Equal(TensorNames.ParameterCount(options.ModelConfig()).ToString(CultureInfo.InvariantCulture), row[Col("params")]);
            Assert.Equal("2", row[Col("seeds_done")]);
            Assert.Equal((6 * 4 * 16).ToString(CultureInfo.InvariantCulture), row[Col("tokens_seen")]);   // steps x batch x context

            // The arm's mean and range are those of its two runs' final NLLs in runs.csv.
            var finals = runs.Where(r => r[0] == arm).Select(r => double.Parse(r[8], CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(finals.Average(), double.Parse(row[Col("final_nll_mean")], CultureInfo.InvariantCulture), 5);
            Assert.Equal(finals.Min(), double.Parse(row[Col("final_nll_min")], CultureInfo.InvariantCulture), 5);
            Assert.Equal(finals.Max(), double.Parse(row[Col("final_nll_max")], CultureInfo.InvariantCulture), 5);
            Assert.Equal(finals.Average() / Math.Log(2), double.Parse(row[Col("final_bits_mean")], CultureInfo.InvariantCulture), 5);
        }
        Assert.Equal("reference", summary.Single(l => l.StartsWith("gpt,")).Split(',')[Col("verdict")]);

        string md = File.ReadAllText(Path.Combine(dir, "summary.md"));
        Assert.Contains("| sc |", md);
        Assert.Contains("| gpt |", md);
        Assert.Contains("nats/byte", md);
        var png = File.ReadAllBytes(Path.Combine(dir, "curves.png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.Equal(2, arms.Count);
    }

    [Fact]
    public void Unfinished_runs_are_listed_but_not_averaged()
    {
        using var t = new TempSweep();
        using var stop = new CancellationTokenSource();
        var runner = t.Runner();
        // Cancelled right before gpt's first evaluation (step 3): that run has no checkpoint at all.
        var outcomes = runner.Run(progress: (r, p) => { if (r.Arm.Name == "gpt" && p.Step == 3) stop.Cancel(); }, cancellation: stop.Token);
        Assert.Equal([true, false], outcomes.Select(o => o.Finished));
        var arms = SweepReport.Write(t.Load(), runner.Plan(), t.OutDir);

        var sc = Assert.Single(arms);
        Assert.Equal("sc", sc.Arm.Name);
        Assert.Equal(1, sc.Runs);
        Assert.Equal(2, sc.Planned);
        Assert.Contains("`gpt`: no finished run yet", File.ReadAllText(Path.Combine(t.OutDir, "report", "summary.md")));
        Assert.Contains("gpt,1,", File.ReadAllText(Path.Combine(t.OutDir, "report", "runs.csv")));
    }

    [Fact]
    public void Spread_is_the_sample_std_and_range_and_only_non_overlapping_ranges_are_a_difference()
    {
        var s = Spread.Of([1.0, 2.0, 3.0]);
        Assert.Equal(2.0, s.Mean, 12);
        Assert.Equal(1.0, s.Std, 12);
        Assert.Equal((1.0, 3.0), (s.Min, s.Max));
        Assert.Equal(0.0, Spread.Of([5.0]).Std);

        Assert.False(Spread.Of([1.0, 2.0]).Separated(Spread.Of([1.9, 3.0])));   // overlapping: a tie
        Assert.True(Spread.Of([1.0, 2.0]).Separated(Spread.Of([2.1, 3.0])));
        Assert.True(Spread.Of([2.1, 3.0]).Separated(Spread.Of([1.0, 2.0])));
    }

    [Theory]
    [InlineData(new[] { 1.0, 1.1 }, new[] { 1.2, 1.3 }, "better")]
    [InlineData(new[] { 1.4, 1.5 }, new[] { 1.2, 1.3 }, "worse")]
    [InlineData(new[] { 1.0, 1.25 }, new[] { 1.2, 1.3 }, "tie")]
    [InlineData(new[] { 1.0 }, new[] { 1.2, 1.3 }, "n/a")]
    public void The_verdict_against_the_reference_needs_two_seeds_and_separated_ranges(double[] arm, double[] reference, string verdict)
    {
        ArmSummary Row(string name, double[] finals) => new(new ArmSpec(name, [], ""), 1, finals.Length, 3, 0, 0, Spread.Of(finals), Spread.Of(finals));
        var r = Row("ref", reference);
        Assert.Equal(verdict, Row("arm", arm).Verdict(r));
        Assert.Equal("reference", r.Verdict(r));
    }
}
