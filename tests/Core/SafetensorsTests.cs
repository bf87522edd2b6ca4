using System.Buffers.Binary;
using System.Text;
using EdgeShortcut.Core;

namespace EdgeShortcut.Tests.Core;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("es-st-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Round_trip_is_bit_exact_and_keeps_metadata()
    {
        string path = Path.Combine(_dir, "m.safetensors");
        var a = new NamedTensor("a", [2, 3], [1, -2, 3.5f, float.Epsilon, -0f, 1e30f]);
        var b = new NamedTensor("b.bias", [4], [0, 1, 2, 3]);
        Safetensors.Write(path, [a, b], new Dictionary<string, string> { ["k"] = "v" });
        var read = Safetensors.Read(path, out var meta);
        Assert.Equal(a.Data, read["a"].Data);
        Assert.Equal([2, 3], read["a"].Shape);
        Assert.Equal(b.Data, read["b.bias"].Data);
        Assert.Equal("v", meta["k"]);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Fact]
    public void Truncated_file_is_a_clear_error()
    {
        string path = Path.Combine(_dir, "m.safetensors");
        Safetensors.Write(path, [new NamedTensor("a", [64], new float[64])]);
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^16]);
        var e = Assert.Throws<CheckpointFormatException>(() => Safetensors.Read(path));
        Assert.Contains("'a'", e.Message);
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(1UL << 40)]
    [InlineData(3UL)]
    public void Hostile_header_length_is_rejected(ulong headerLen)
    {
        string path = Path.Combine(_dir, "h.safetensors");
        var bytes = new byte[8 + 16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLen);
        Encoding.ASCII.GetBytes("{{{{{{{{{{{{{{{{").CopyTo(bytes, 8);
        Assert.Throws<CheckpointFormatException>(() => Safetensors.Read(path));
        File.WriteAllBytes(path, bytes);
        Assert.Throws<CheckpointFormatException>(() => Safetensors.Read(path));
    }

    [Fact]
    public void Offsets_that_disagree_with_the_shape_are_rejected()
    {
        string path = Path.Combine(_dir, "o.safetensors");
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}";
        var bytes = new byte[8 + json.Length + 16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        Encoding.ASCII.GetBytes(json).CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointFormatException>(() => Safetensors.Read(path));
        Assert.Contains("needs 16", e.Message);
    }
}
