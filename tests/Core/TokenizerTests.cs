using EdgeShortcut.Core;

namespace EdgeShortcut.Tests.Core;

public class TokenizerTests
{
    [Theory]
    [InlineData("ROMEO: hello")]
    [InlineData("héllo wörld — 日本語 🎭")]
    [InlineData("")]
    public void Byte_tokenizer_round_trips_any_text(string text) =>
        Assert.Equal(text, ByteTokenizer.Decode(ByteTokenizer.Encode(text)));

    [Fact]
    public void Stream_decoder_never_splits_a_multibyte_character()
    {
        string text = "a🎭é日";
        var decoder = new Utf8StreamDecoder();
        var pieces = ByteTokenizer.Encode(text).Select(decoder.Push).Where(p => p.Length > 0).ToList();
        Assert.Equal(["a", "🎭", "é", "日"], pieces);
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void Stream_decoder_flushes_an_incomplete_character_as_replacement()
    {
        var decoder = new Utf8StreamDecoder();
        Assert.Equal("", decoder.Push(0xE6));
        Assert.Equal("\uFFFD", decoder.Flush());
    }
}
