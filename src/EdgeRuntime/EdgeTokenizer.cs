using EdgeShortcut.Core;

namespace EdgeShortcut.Runtime;

/// <summary>
/// The model's tokenizer, as its metadata describes it. The byte tokenizer maps UTF-8 bytes to ids
/// 0..255 (any text, exact round trip). A <c>token-file</c> model has ids without a text form: use
/// <see cref="Generator"/> with ids; the text methods throw <see cref="NotSupportedException"/>.
/// </summary>
public sealed class EdgeTokenizer
{
    internal EdgeTokenizer(TokenizerSpec spec) => Spec = spec;

    /// <summary>The spec from the model's metadata.</summary>
    public TokenizerSpec Spec { get; }

    /// <summary>Number of ids.</summary>
    public int VocabSize => Spec.VocabSize;

    /// <summary>Whether ids map to text (true for the byte tokenizer).</summary>
    public bool SupportsText => Spec.Kind == TokenizerSpec.ByteKind;

    /// <summary>Text to ids.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        RequireText();
        return ByteTokenizer.Encode(text);
    }

    /// <summary>Ids to text (invalid UTF-8 becomes U+FFFD).</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        RequireText();
        return ByteTokenizer.Decode(ids);
    }

    /// <summary>A decoder for streaming: returns text pieces that never split a UTF-8 character.</summary>
    public Utf8StreamDecoder CreateStreamDecoder()
    {
        RequireText();
        return new Utf8StreamDecoder();
    }

    private void RequireText()
    {
        if (!SupportsText)
            throw new NotSupportedException($"This model's tokenizer is '{Spec.Kind}' (ids without text); drive it with Generator.AppendTokens / NextToken.");
    }
}
