using System.Reflection;
using System.Runtime.CompilerServices;

namespace EdgeShortcut.Runtime.Managed;

/// <summary>
/// Compiles the managed engine's fully optimized methods (those marked <see cref="MethodImplOptions.AggressiveOptimization"/>:
/// the kernels and the per-token paths, which the JIT compiles at their first call and never again) on a background
/// thread while the first managed model of the process loads. Why: a fresh process spent ~60 of the default model's
/// ~75 ms to its first token compiling them on the generating thread; compiled beside the load (which runs on one
/// core), the first token came after 38-50 ms, for a load ~9 ms slower at 85M parameters (docs/BENCHMARKS.md, "Nineteenth session").
/// A method the generating thread reaches first is compiled there as before (the JIT compiles each method once).
/// </summary>
internal static class KernelPrecompiler
{
    private static int s_started;

    /// <summary>Starts the background compile, once per process (later calls do nothing).</summary>
    public static void StartOnce()
    {
        if (Interlocked.Exchange(ref s_started, 1) != 0) return;
        try { new Thread(() => CompileAll()) { IsBackground = true, Priority = ThreadPriority.BelowNormal, Name = "EdgeShortcut precompiler" }.Start(); }
        catch (Exception e) when (e is ThreadStartException or OutOfMemoryException) { }   // the methods compile at their first calls, as without it
    }

    /// <summary>Compiles every non-generic method of this assembly marked <c>AggressiveOptimization</c>, each type's static
    /// fields initialized first (so the JIT sees them as constants, as it would at a later first call). Returns the methods
    /// compiled and those that failed; a failure only leaves that method to be compiled at its first call.</summary>
    public static (int Compiled, int Failed) CompileAll()
    {
        int compiled = 0, failed = 0;
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        try
        {
            Type?[] types;
            try { types = typeof(KernelPrecompiler).Assembly.GetTypes(); }
            catch (ReflectionTypeLoadException e) { types = e.Types; }   // a dependency missing: the types that did load
            foreach (var type in types)
            {
                if (type is null || type.ContainsGenericParameters) continue;
                var methods = type.GetMethods(all).Where(m => !m.ContainsGenericParameters && !m.IsAbstract
                    && (m.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) != 0).ToList();
                if (methods.Count == 0) continue;
                try { RuntimeHelpers.RunClassConstructor(type.TypeHandle); }
                catch (TypeInitializationException) { failed += methods.Count; continue; }   // the type fails at its first use anyway
                foreach (var method in methods)
                {
                    try { RuntimeHelpers.PrepareMethod(method.MethodHandle); compiled++; }
                    catch (Exception) { failed++; }
                }
            }
        }
        catch (Exception) { failed++; }   // reflection itself failed: nothing is lost (and on the background thread nothing may escape)
        return (compiled, failed);
    }
}
