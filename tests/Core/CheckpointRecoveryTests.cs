using EdgeShortcut.Core;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Core;

/// <summary>Issue 12, items 6 and 7 at the checkpoint level: every reader goes through Core's one
/// recovery of <c>.NAME.old</c> (FORMAT.md section 2), a commit removes the temp directories of
/// interrupted saves, and a non-finite weight is refused by name when the checkpoint is read.</summary>
public sealed class CheckpointRecoveryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("es-ckpt-rec-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void A_reader_of_the_model_moves_an_interrupted_commits_old_directory_back()
    {
        string last = Path.Combine(_dir, "last"), old = Path.Combine(_dir, ".last.old");
        TinyCheckpoint.Write(last, TinyCheckpoint.Config(), seed: 1);
        Directory.Move(last, old);                   // a kill between the two renames of a commit
        var (config, tensors) = Checkpoint.Load(last);
        Assert.Equal(TinyCheckpoint.Config(), config.Model);
        Assert.NotEmpty(tensors);
        Assert.True(Directory.Exists(last));
        Assert.False(Directory.Exists(old));
    }

    [Fact]
    public void A_commit_replaces_the_directory_and_removes_stale_temp_directories()
    {
        string last = Path.Combine(_dir, "last");
        string stale = Path.Combine(_dir, ".last.tmp-0123456789abcdef");
        Directory.CreateDirectory(stale);
        File.WriteAllText(Path.Combine(stale, "config.json"), "{");   // an interrupted save's leftovers
        string other = Path.Combine(_dir, ".best.tmp-0123");           // another checkpoint's temp is not ours to remove
        Directory.CreateDirectory(other);
        CheckpointDirectory.Save(last, temp => File.WriteAllText(Path.Combine(temp, "a.txt"), "1"));
        CheckpointDirectory.Save(last, temp => File.WriteAllText(Path.Combine(temp, "a.txt"), "2"));
        Assert.Equal("2", File.ReadAllText(Path.Combine(last, "a.txt")));
        Assert.False(Directory.Exists(stale));
        Assert.True(Directory.Exists(other));
        Assert.Equal([".best.tmp-0123", "last"], Directory.GetDirectories(_dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_failed_save_keeps_the_previous_directory_and_leaves_no_temp()
    {
        string last = Path.Combine(_dir, "last");
        CheckpointDirectory.Save(last, temp => File.WriteAllText(Path.Combine(temp, "a.txt"), "good"));
        Assert.Throws<InvalidOperationException>(() => CheckpointDirectory.Save(last, _ => throw new InvalidOperationException("boom")));
        Assert.Equal("good", File.ReadAllText(Path.Combine(last, "a.txt")));
        Assert.Equal(["last"], Directory.GetDirectories(_dir).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "Infinity")]
    public void A_non_finite_weight_is_refused_naming_file_tensor_and_index(float value, string shown)
    {
        var config = TinyCheckpoint.Config();
        var weights = TinyCheckpoint.RandomWeights(config, 3);
        weights["blocks.0.attn.qkv.weight"].Data[5] = value;
        Checkpoint.WriteConfig(_dir, new CheckpointConfig { Model = config });
        string file = Path.Combine(_dir, Checkpoint.WeightsFile);
        Safetensors.Write(file, TensorNames.All(config).Select(t => weights[t.Name]));
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Load(_dir));
        Assert.Equal(file, e.FilePath);
        Assert.Contains($"'blocks.0.attn.qkv.weight' holds a non-finite value ({shown}) at index 5", e.Message);
    }
}
