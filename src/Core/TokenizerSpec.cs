using System.Text.Json.Serialization;

namespace EdgeShortcut;

/// <summary>Describes how text maps to token ids; stored in config.json and in the ONNX metadata.</summary>
/// <param name="Kind"><c>"byte"</c>: UTF-8 bytes are the ids (vocab 256). <c>"token-file"</c>: the corpus is
/// a pre-tokenized stream of little-endian uint16 ids with a declared vocab; there is no text form.</param>
/// <param name="VocabSize">Number of ids.</param>
public sealed record TokenizerSpec(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("vocab_size")] int VocabSize)
{
    /// <summary>The byte-level tokenizer: any UTF-8 text, nothing out of vocabulary, exact decoding.</summary>
    public static TokenizerSpec Bytes { get; } = new(ByteKind, 256);

    /// <summary>Kind name of the byte-level tokenizer.</summary>
    public const string ByteKind = "byte";
    /// <summary>Kind name of pre-tokenized uint16 streams.</summary>
    public const string TokenFileKind = "token-file";

    /// <summary>Throws when the kind is unknown or the vocab does not fit it.</summary>
    public TokenizerSpec Validate()
    {
        if (Kind == ByteKind && VocabSize != 256) throw new InvalidModelConfigException("tokenizer.vocab_size", $"Invalid tokenizer: kind 'byte' has vocab_size 256, not {VocabSize}.");
        if (Kind == TokenFileKind && VocabSize is < 2 or > 65536) throw new InvalidModelConfigException("tokenizer.vocab_size", $"Invalid tokenizer: a uint16 token file has vocab_size in 2..65536, not {VocabSize}.");
        if (Kind is not (ByteKind or TokenFileKind)) throw new InvalidModelConfigException("tokenizer.kind", $"Invalid tokenizer: unknown kind '{Kind}' (expected 'byte' or 'token-file').");
        return this;
    }
}
