using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace EdgeShortcut.Runtime.Chat;

/// <summary>
/// <see cref="IChatClient"/> over an <see cref="EdgeModel"/>, so the model plugs into
/// Microsoft.Extensions.AI pipelines. Messages become one prompt by <see cref="ChatPromptFormat"/>;
/// <see cref="ChatOptions"/> map onto <see cref="GenerationOptions"/>: MaxOutputTokens, Temperature,
/// TopP, TopK, Seed and StopSequences (added to the turn separator); tools, response formats and
/// frequency/presence penalties are ignored (a small byte-level model has no use for them).
/// Disposing the client does not dispose the model, which may be shared.
/// </summary>
public sealed class EdgeChatClient(EdgeModel model, GenerationOptions? defaults = null, ChatPromptFormat? format = null) : IChatClient
{
    private readonly GenerationOptions _defaults = (defaults ?? new GenerationOptions()).Validate();

    /// <summary>The prompt layout.</summary>
    public ChatPromptFormat Format { get; } = format ?? new ChatPromptFormat();

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var stats = new GenerationStats();
        var text = new System.Text.StringBuilder();
        await foreach (var piece in Stream(messages, options, stats, cancellationToken).ConfigureAwait(false)) text.Append(piece);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ModelId = ModelId,
            FinishReason = Map(stats.FinishReason),
            Usage = Usage(stats),
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var stats = new GenerationStats();
        string id = Guid.NewGuid().ToString("N");
        await foreach (var piece in Stream(messages, options, stats, cancellationToken).ConfigureAwait(false))
            yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ResponseId = id, ModelId = ModelId };
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(stats))])
        {
            ResponseId = id, ModelId = ModelId, FinishReason = Map(stats.FinishReason),
        };
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return new ChatClientMetadata("EdgeShortcut", null, ModelId);
        if (serviceType.IsInstanceOfType(model)) return model;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Nothing to free: the model belongs to the caller.</summary>
    public void Dispose() { }

    private string ModelId => Path.GetFileNameWithoutExtension(model.File.Path);

    private IAsyncEnumerable<string> Stream(IEnumerable<ChatMessage> messages, ChatOptions? options, GenerationStats stats, CancellationToken ct)
    {
        string prompt = Format.Format(messages, options?.Instructions);
        return model.GenerateAsync(prompt, ToGenerationOptions(options), stats, ct);
    }

    /// <summary>The generation options for one request: the client's defaults (validated when the
    /// client was made) overridden by <paramref name="options"/>.</summary>
    internal GenerationOptions ToGenerationOptions(ChatOptions? options)
    {
        var g = _defaults with { StopSequences = [.. _defaults.StopSequences, Format.TurnSeparator] };
        if (options is null) return g;
        if (options.MaxOutputTokens is int max) g = g with { MaxNewTokens = max };
        if (options.Temperature is float t) g = g with { Temperature = t };
        if (options.TopP is float p) g = g with { TopP = p };
        if (options.TopK is int k) g = g with { TopK = k };
        if (options.Seed is long seed) g = g with { Seed = unchecked((int)(seed ^ (seed >> 32))) };
        if (options.StopSequences is { Count: > 0 } stops) g = g with { StopSequences = [.. g.StopSequences, .. stops] };
        return g;   // validated by GenerateAsync, the one entry every request goes through
    }

    private static ChatFinishReason? Map(FinishReason reason) => reason switch
    {
        FinishReason.StopSequence => ChatFinishReason.Stop,
        FinishReason.Length or FinishReason.ContextFull => ChatFinishReason.Length,
        _ => null,
    };

    private static UsageDetails Usage(GenerationStats s) => new()
    {
        InputTokenCount = s.PromptTokens, OutputTokenCount = s.GeneratedTokens, TotalTokenCount = s.PromptTokens + s.GeneratedTokens,
    };
}
