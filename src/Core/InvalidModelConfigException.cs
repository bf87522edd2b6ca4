namespace EdgeShortcut;

/// <summary>A model config field is out of range or inconsistent; <see cref="Field"/> names it.</summary>
public sealed class InvalidModelConfigException(string field, string message) : ArgumentException(message, field)
{
    /// <summary>The config key (as in config.json) that is wrong.</summary>
    public string Field { get; } = field;
}
