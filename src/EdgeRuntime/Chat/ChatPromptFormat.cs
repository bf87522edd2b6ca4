using System.Text;
using Microsoft.Extensions.AI;

namespace EdgeShortcut.Runtime.Chat;

/// <summary>
/// How chat messages become one prompt for a plain language model, in the layout of a play script
/// (the default model's training text): every turn is <c>NAME:\n{text}</c> followed by the turn
/// separator, and the prompt ends with <c>ASSISTANT_NAME:\n</c> so the model writes the next turn.
/// Generation stops at the turn separator. Example with the defaults:
/// <code>
/// SYSTEM:
/// Speak in verse.
///
/// USER:
/// Good morrow.
///
/// ASSISTANT:
/// </code>
/// Only text content is used; a message's text that itself contains the separator reads as several turns.
/// </summary>
public sealed record ChatPromptFormat
{
    /// <summary>Speaker name of system messages and <see cref="ChatOptions.Instructions"/>.</summary>
    public string SystemName { get; init; } = "SYSTEM";
    /// <summary>Speaker name of user messages.</summary>
    public string UserName { get; init; } = "USER";
    /// <summary>Speaker name of the model's turns.</summary>
    public string AssistantName { get; init; } = "ASSISTANT";
    /// <summary>Ends every turn; also the stop sequence of a reply.</summary>
    public string TurnSeparator { get; init; } = "\n\n";

    /// <summary>The prompt for <paramref name="messages"/> (after <paramref name="instructions"/>, if any).</summary>
    public string Format(IEnumerable<ChatMessage> messages, string? instructions = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (string.IsNullOrEmpty(TurnSeparator)) throw new ArgumentException("ChatPromptFormat.TurnSeparator must not be empty.", nameof(TurnSeparator));
        var sb = new StringBuilder();
        if (!string.IsNullOrEmpty(instructions)) AppendTurn(sb, SystemName, instructions);
        foreach (var m in messages) AppendTurn(sb, NameOf(m.Role), m.Text);
        return sb.Append(AssistantName).Append(":\n").ToString();
    }

    private string NameOf(ChatRole role) =>
        role == ChatRole.System ? SystemName :
        role == ChatRole.User ? UserName :
        role == ChatRole.Assistant ? AssistantName :
        role.Value.ToUpperInvariant();

    private void AppendTurn(StringBuilder sb, string name, string text) =>
        sb.Append(name).Append(":\n").Append(text).Append(TurnSeparator);
}
