namespace EdgeShortcut.Runtime;

/// <summary>Creates the pure C# backend (branch <c>engine</c>, src/EdgeRuntime/Managed/).</summary>
internal static class ManagedEngine
{
    /// <summary>Opens <paramref name="file"/> on the managed engine.</summary>
    public static IInferenceBackend Create(ModelFileInfo file, EdgeModelOptions options) =>
        throw new NotSupportedException($"{file.Path}: the managed engine is not part of this build yet (Backend = Managed); use Auto or Cpu.");
}
