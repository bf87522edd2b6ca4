using System.Buffers.Binary;
using System.Text;
using EdgeShortcut.Core;

namespace EdgeShortcut.Tests.Core;

/// <summary>Issue 12, items 1-2: the safetensors reader rejects, as <see cref="CheckpointFormatException"/>
/// naming the file (and the tensor where there is one), everything the reference implementation
/// (huggingface/safetensors) rejects. Each case is a reproducer from the issue.</summary>
public sealed class SafetensorsStrictnessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("es-st-strict-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A file with the given raw header bytes (no padding) followed by <paramref name="dataBytes"/> zero bytes.</summary>
    private string FileWith(byte[] header, int dataBytes, ulong? declaredLength = null)
    {
        string path = Path.Combine(_dir, $"f{Guid.NewGuid():N}.safetensors");
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string FileWith(string header, int dataBytes) => FileWith(Encoding.UTF8.GetBytes(header), dataBytes);

    private CheckpointFormatException Rejected(string path, string? tensor = null)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => Safetensors.Read(path));
        Assert.Equal(path, e.FilePath);
        if (tensor is not null) Assert.Contains($"'{tensor}'", e.Message);
        return e;
    }

    [Fact]
    public void Duplicate_tensor_name_is_a_format_error_naming_it()
    {
        string path = FileWith("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
        Assert.Contains("more than once", Rejected(path, "a").Message);
    }

    [Fact]
    public void Invalid_utf8_in_a_tensor_name_is_a_format_error()
    {
        var header = Encoding.UTF8.GetBytes("{\"aX\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
        header[3] = 0xFF;   // the X
        Assert.Contains("UTF-8", Rejected(FileWith(header, 4)).Message);
    }

    [Fact]
    public void Overlapping_data_offsets_are_rejected()
    {
        string path = FileWith("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
        Rejected(path, "b");
    }

    [Fact]
    public void A_gap_between_tensors_is_rejected()
    {
        string path = FileWith("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12);
        Rejected(path, "b");
    }

    [Fact]
    public void Trailing_bytes_after_the_last_tensor_are_rejected()
    {
        string path = FileWith("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 5);
        Assert.Contains("trailing", Rejected(path).Message);
    }

    [Fact]
    public void Header_length_shortened_into_the_padding_is_rejected_not_shifted()
    {
        // The writer pads the header with spaces to a multiple of 8; a length cut into the padding
        // still parses as JSON but moves every tensor's data by the cut (issue: eval then said NaN).
        string path = Path.Combine(_dir, "padded.safetensors");
        Safetensors.Write(path, [new NamedTensor("w", [3], [1f, 2f, 3f])]);
        byte[] bytes = File.ReadAllBytes(path);
        ulong len = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal((byte)' ', bytes[8 + (int)len - 1]);   // the file really has padding to cut into
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, len - 1);
        File.WriteAllBytes(path, bytes);
        Rejected(path);
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4)]           // bytes disagree with the shape
    [InlineData("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4)]           // dtype this reader cannot hold
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)]          // negative dimension
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4)]         // non-integer dimension
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[65536,65536],\"data_offsets\":[0,4]}}", 4)] // oversized shape
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4)]           // end before begin
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4)]                                   // missing data_offsets
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4)]         // three offsets
    [InlineData("{\"a\":[1,2]}", 4)]                                                                // entry is not an object
    public void Entries_whose_dtype_shape_and_bytes_disagree_are_rejected_by_name(string header, int dataBytes) =>
        Rejected(FileWith(header, dataBytes), "a");

    [Theory]
    [InlineData("{\"__metadata__\":{\"k\":1}}")]        // metadata values are strings in the reference
    [InlineData("[1,2,3]")]                              // not an object
    [InlineData("{\"a\":{}} x")]                          // trailing JSON garbage
    public void Malformed_headers_are_rejected(string header) => Rejected(FileWith(header, 0));

    [Fact]
    public void Every_mutation_of_a_real_file_ends_as_a_format_error_or_a_faithful_read()
    {
        // Deterministic sweep: every single-byte change of the header of a real file either reads
        // back exactly the same tensors or is a CheckpointFormatException; nothing else escapes.
        string path = Path.Combine(_dir, "sweep.safetensors");
        Safetensors.Write(path, [new NamedTensor("a", [2], [1f, 2f]), new NamedTensor("b", [1], [3f])]);
        byte[] original = File.ReadAllBytes(path);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        foreach (byte value in new byte[] { 0, (byte)'"', (byte)'1', (byte)'{', (byte)']', 0xC3, 0xFF })
            for (int i = 0; i < headerEnd; i++)
            {
                byte[] bytes = (byte[])original.Clone();
                bytes[i] = value;
                File.WriteAllBytes(path, bytes);
                try
                {
                    var read = Safetensors.Read(path);   // a renamed tensor is fine; its data must be intact
                    Assert.Equal(new[] { 1f, 2f, 3f }, read.Values.SelectMany(t => t.Data).Order());
                }
                catch (CheckpointFormatException) { }
            }
    }
}
