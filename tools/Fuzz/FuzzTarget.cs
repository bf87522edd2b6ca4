namespace EdgeShortcut.Fuzz;

/// <summary>
/// One loader under fuzzing: valid seed inputs, structured mutations of them, and the call that loads
/// an input as the product does. <see cref="Load"/> returns normally for an accepted input and throws
/// for a refused one; the exception types in <see cref="Expected"/> are the loader's typed errors, any
/// other exception is a finding.
/// </summary>
public abstract class FuzzTarget : IDisposable
{
    /// <summary>The name used on the command line and in reproducer directories.</summary>
    public abstract string Name { get; }

    /// <summary>The exception types a hostile input may produce (the loader's documented errors).</summary>
    public abstract IReadOnlyList<Type> Expected { get; }

    /// <summary>Valid inputs, each of which <see cref="Load"/> accepts.</summary>
    public abstract IReadOnlyList<byte[]> Seeds { get; }

    /// <summary>A mutation of <paramref name="seed"/>: mostly structure-aware (valid lengths, bad content).</summary>
    public abstract byte[] Mutate(byte[] seed, Random random);

    /// <summary>Loads <paramref name="input"/> as the product would (writing it to <paramref name="scratch"/> first
    /// when the loader reads files) and uses what it loaded.</summary>
    public abstract void Load(byte[] input, string scratch);

    /// <summary>True when <paramref name="e"/> is one of the <see cref="Expected"/> types (or derives from one).</summary>
    public bool IsExpected(Exception e) => Expected.Any(t => t.IsInstanceOfType(e));

    /// <summary>Frees what the target holds (models, optimizers).</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}
