namespace EdgeShortcut.Tests.Runtime;

/// <summary>Test classes that must not run beside others: xunit runs this collection by itself, after the parallel ones.
/// For tests whose subject is timing between two threads (a parallel test class takes the second core).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Alone: timing-sensitive";
}
