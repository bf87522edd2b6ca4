using EdgeShortcut.Runtime;
using EdgeShortcut.Runtime.Chat;
using Microsoft.Extensions.AI;

namespace EdgeShortcut.Tests.Runtime;

public class ChatClientTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "Speak plainly."),
        new(ChatRole.User, "Good morrow."),
        new(ChatRole.Assistant, "And to you."),
        new(ChatRole.User, "How now?"),
    ];

    [Fact]
    public void Messages_become_a_play_script_prompt_ending_with_the_assistant_speaker()
    {
        string prompt = new ChatPromptFormat().Format(Conversation, instructions: "Be brief.");
        Assert.Equal("SYSTEM:\nBe brief.\n\nSYSTEM:\nSpeak plainly.\n\nUSER:\nGood morrow.\n\nASSISTANT:\nAnd to you.\n\nUSER:\nHow now?\n\nASSISTANT:\n", prompt);
        var romeo = new ChatPromptFormat { UserName = "JULIET", AssistantName = "ROMEO" };
        Assert.EndsWith("JULIET:\nHow now?\n\nROMEO:\n", romeo.Format(Conversation));
    }

    [Fact]
    public async Task GetResponseAsync_returns_the_turn_up_to_the_separator_with_usage()
    {
        // The scripted model ignores the prompt's content: its script starts where the prompt ends.
        int promptTokens = new ChatPromptFormat().Format(Conversation).Length;
        using var model = FakeBackend.Scripted("Well, sir.\n\nUSER:\nmore", promptLength: promptTokens).ToModel();
        using IChatClient client = new EdgeChatClient(model, GenerationOptions.Greedy);

        var response = await client.GetResponseAsync(Conversation);
        Assert.Equal("Well, sir.", response.Text);
        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(promptTokens, response.Usage!.InputTokenCount);
        Assert.Equal(12, response.Usage.OutputTokenCount);   // "Well, sir." + the two separator bytes
        Assert.Equal("fake", response.ModelId);
    }

    [Fact]
    public async Task Streaming_gives_the_same_text_and_ends_with_a_finish_reason()
    {
        int promptTokens = new ChatPromptFormat().Format([new(ChatRole.User, "hi")]).Length;
        using var model = FakeBackend.Scripted("Fare thee well.\n\n", promptLength: promptTokens).ToModel();
        using IChatClient client = new EdgeChatClient(model, GenerationOptions.Greedy);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync([new(ChatRole.User, "hi")])) updates.Add(u);
        Assert.Equal("Fare thee well.", string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
        Assert.Contains(updates[^1].Contents, c => c is UsageContent);
    }

    [Fact]
    public async Task Chat_options_map_onto_generation_options()
    {
        int promptTokens = new ChatPromptFormat().Format([new(ChatRole.User, "hi")]).Length;
        using var model = FakeBackend.Scripted("abcdefgh", promptLength: promptTokens).ToModel();
        var client = new EdgeChatClient(model, GenerationOptions.Greedy);
        var options = new ChatOptions { MaxOutputTokens = 3, Temperature = 0.5f, TopP = 0.9f, TopK = 7, Seed = 12, StopSequences = ["zz"] };
        var g = client.ToGenerationOptions(options);
        Assert.Equal((3, 0.5f, 0.9f, 7, 12), (g.MaxNewTokens, g.Temperature, g.TopP, g.TopK, g.Seed!.Value));
        Assert.Equal(["\n\n", "zz"], g.StopSequences);

        var response = await client.GetResponseAsync([new(ChatRole.User, "hi")], new ChatOptions { MaxOutputTokens = 3 });
        Assert.Equal("abc", response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        var bad = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new(ChatRole.User, "hi")], new ChatOptions { TopP = 2 }));
        Assert.Equal("TopP", bad.ParamName);
    }

    [Fact]
    public void GetService_exposes_metadata_and_the_model()
    {
        using var model = FakeBackend.Scripted("a", 1).ToModel();
        IChatClient client = new EdgeChatClient(model);
        Assert.Equal("EdgeShortcut", client.GetService<ChatClientMetadata>()!.ProviderName);
        Assert.Same(model, client.GetService<EdgeModel>());
        Assert.Null(client.GetService<ChatClientMetadata>("some-key"));
    }
}
