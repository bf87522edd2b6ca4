using EdgeShortcut.Runtime.Managed;

namespace EdgeShortcut.Tests.Runtime.Managed;

public class KernelPrecompilerTests
{
    [Fact]
    public void Every_fully_optimized_method_compiles_ahead_of_its_first_call_on_this_cpu()
    {
        // Including the kernels of instruction sets this CPU lacks (they compile to their fallbacks, never run).
        var (compiled, failed) = KernelPrecompiler.CompileAll();
        Assert.Equal(0, failed);
        Assert.InRange(compiled, 60, 1000);   // 93 when written: the kernels, the decode and prefill paths, the sampler
    }
}
