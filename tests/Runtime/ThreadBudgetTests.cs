using EdgeShortcut.Runtime;
using EdgeShortcut.Tests.Runtime.Managed;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime;

/// <summary>Issue 13: the CPU backends run at equal threads by default, and an explicit count reaches both.</summary>
public class ThreadBudgetTests
{
    private static string DefaultModel => Path.Combine(RepoPaths.Root(), "models", "default.onnx");

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(16, 2)]
    public void The_default_is_the_managed_engines_count_min_cores_2(int cores, int expected) =>
        Assert.Equal(expected, ThreadBudget.Default(cores));

    [Fact]
    public void By_default_the_managed_engine_and_the_ONNX_Runtime_CPU_provider_use_the_same_number_of_threads()
    {
        using var managed = EdgeModel.Load(DefaultModel, new EdgeModelOptions { Backend = BackendKind.Managed });
        using var cpu = EdgeModel.Load(DefaultModel, new EdgeModelOptions { Backend = BackendKind.Cpu });
        Assert.Equal(ThreadBudget.Default(Environment.ProcessorCount), managed.Threads);
        Assert.Equal(managed.Threads, cpu.Threads);
    }

    [Fact]
    public void An_explicit_count_reaches_ONNX_Runtime_and_caps_the_managed_engine_at_two()
    {
        using var cpu = EdgeModel.Load(DefaultModel, new EdgeModelOptions { Backend = BackendKind.Cpu, Threads = 3 });
        Assert.Equal(3, cpu.Threads);
        using var managed = EdgeModel.Load(DefaultModel, new EdgeModelOptions { Backend = BackendKind.Managed, Threads = 3 });
        Assert.Equal(Math.Min(Environment.ProcessorCount, 2), managed.Threads);
    }

    [Fact]
    public void One_thread_runs_the_managed_engine_without_its_helper_even_on_large_matrices()
    {
        var c = ManagedAllocationTests.Wide();
        var weights = TinyCheckpoint.RandomWeights(c, seed: 1);
        using var one = ManagedTestModels.Engine(c, weights, int8: true, threads: 1);
        Assert.Equal(1, one.Threads);
        Assert.False(one.UsesHelperThread);
        if (Environment.ProcessorCount < 2) return;   // a helper exists only with a second core
        using var two = ManagedTestModels.Engine(c, weights, int8: true);
        Assert.Equal(2, two.Threads);
        Assert.True(two.UsesHelperThread);
    }
}
