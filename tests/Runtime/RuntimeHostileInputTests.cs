using EdgeShortcut.Core;
using EdgeShortcut.Core.Onnx;
using EdgeShortcut.Quantize;
using EdgeShortcut.Runtime;
using EdgeShortcut.Tests.Support;

namespace EdgeShortcut.Tests.Runtime;

/// <summary>Issue 12 reproducers against the runtime: an edited model file makes both backends refuse
/// it (or neither), a non-finite weight is named, NaN logits are a typed error, a tiny temperature is
/// refused, and disposing an ONNX Runtime model while it generates is safe.</summary>
public sealed class RuntimeHostileInputTests : IDisposable
{
    private readonly TinyOnnxModel _files = new();
    public void Dispose() => _files.Dispose();

    /// <summary>A valid tiny model, edited in memory by <paramref name="edit"/>, written to a file.</summary>
    private string Edited(string name, Action<OnnxModel> edit, ExportPrecision precision = ExportPrecision.Fp32)
    {
        var config = TinyCheckpoint.Config();
        var (model, _) = OnnxExporter.BuildModel(new CheckpointConfig { Model = config }, TinyCheckpoint.RandomWeights(config, 5), precision, "00");
        edit(model);
        string path = _files.PathOf(name);
        OnnxWriter.WriteFile(path, model);
        return path;
    }

    private static void SetConfig(OnnxModel model, Func<ModelConfig, ModelConfig> change)
    {
        int i = model.MetadataProps.FindIndex(p => p.Key == OnnxMetadata.ModelConfigKey);
        var config = System.Text.Json.JsonSerializer.Deserialize<ModelConfig>(model.MetadataProps[i].Value)!;
        model.MetadataProps[i] = new(OnnxMetadata.ModelConfigKey, System.Text.Json.JsonSerializer.Serialize(change(config)));
    }

    private static void BothBackendsRefuse(string path, params string[] mentions)
    {
        foreach (var kind in new[] { BackendKind.Cpu, BackendKind.Managed })
        {
            var e = Assert.Throws<CheckpointFormatException>(() => EdgeModel.Load(path, new EdgeModelOptions { Backend = kind }).Dispose());
            Assert.Equal(path, e.FilePath);
            foreach (var m in mentions) Assert.Contains(m, e.Message);
        }
    }

    [Fact]
    public void A_graph_with_a_node_deleted_is_refused_at_load_not_at_the_first_token()
    {
        string path = Edited("no-node.onnx", m => m.Graph.Nodes.RemoveAt(m.Graph.Nodes.FindIndex(n => n.OpType == "Softmax")));
        BothBackendsRefuse(path, "no earlier node");
    }

    [Fact]
    public void Metadata_that_disagrees_with_the_graph_on_n_head_or_ln_eps_is_refused_by_both_backends()
    {
        BothBackendsRefuse(Edited("heads.onnx", m => SetConfig(m, c => c with { Heads = 4 })), "past_key.0");
        BothBackendsRefuse(Edited("eps.onnx", m => SetConfig(m, c => c with { LayerNormEps = 1e-3f })), "epsilon", "ln_eps");
    }

    [Fact]
    public void A_non_finite_weight_is_named_by_both_backends()
    {
        string path = Edited("nan.onnx", m =>
        {
            int i = m.Graph.Initializers.FindIndex(t => t.Name == "blocks.1.mlp.fc.weight_t");
            var values = m.Graph.Initializers[i].AsFloats().ToArray();
            values[3] = float.NaN;
            m.Graph.Initializers[i] = OnnxTensor.FromFloats(m.Graph.Initializers[i].Name, m.Graph.Initializers[i].Dims, values);
        });
        BothBackendsRefuse(path, "'blocks.1.mlp.fc.weight_t'", "NaN");
    }

    [Fact]
    public void An_edited_constant_or_a_foreign_initializer_is_refused()
    {
        BothBackendsRefuse(Edited("const.onnx", m =>
        {
            int i = m.Graph.Initializers.FindIndex(t => t.Name.StartsWith("const.f32."));
            m.Graph.Initializers[i] = OnnxTensor.FromFloats(m.Graph.Initializers[i].Name, [], [12345f]);
        }), "const.f32.");
        BothBackendsRefuse(Edited("extra.onnx", m => m.Graph.Initializers.Add(OnnxTensor.FromFloats("stowaway", [1], [1f]))), "'stowaway'");
    }

    [Fact]
    public void Nan_logits_are_a_typed_error_with_a_clear_message()
    {
        using var model = new FakeBackend(FakeBackend.ByteConfig(), _ => Enumerable.Repeat(float.NaN, 256).ToArray()).ToModel();
        using var gen = model.CreateGenerator(new GenerationOptions { Seed = 1 });
        gen.AppendTokens([1, 2]);
        var e = Assert.Throws<NonFiniteValueException>(() => gen.NextToken());
        Assert.Contains("non-finite logits", e.Message);
    }

    [Fact]
    public void A_temperature_whose_inverse_overflows_is_refused_by_name()
    {
        var e = Assert.Throws<ArgumentException>(() => new GenerationOptions { Temperature = 1e-40f }.Validate());
        Assert.Equal(nameof(GenerationOptions.Temperature), e.ParamName);
        new GenerationOptions { Temperature = 0 }.Validate();
        new GenerationOptions { Temperature = 0.001f }.Validate();
    }

    [Fact]
    public void Disposing_an_onnx_runtime_model_while_it_generates_is_safe_and_later_calls_throw()
    {
        var (path, _, _) = _files.Write(contextLength: 64);
        for (int round = 0; round < 4; round++)
        {
            var model = EdgeModel.Load(path, new EdgeModelOptions { Backend = BackendKind.Cpu });
            var generators = Enumerable.Range(0, 4).Select(_ => model.CreateGenerator(GenerationOptions.Greedy with { MaxNewTokens = 1 << 20 })).ToArray();
            foreach (var g in generators) g.AppendTokens([1, 2, 3]);
            using var started = new CountdownEvent(generators.Length);
            var workers = generators.Select(g => Task.Run(() =>
            {
                started.Signal();
                try { while (true) g.NextToken(); }
                catch (ObjectDisposedException) { return true; }
            })).ToArray();
            started.Wait();
            Thread.Sleep(20 * round);
            model.Dispose();
#pragma warning disable xUnit1031   // bounded waits on purpose: a generation that hangs after Dispose must fail the test, not stall the run
            Assert.True(Task.WaitAll(workers, TimeSpan.FromSeconds(30)), "a generation did not stop after Dispose");
            Assert.All(workers, w => Assert.True(w.Result));
            foreach (var g in generators)
            {
                var next = Task.Run(() => Assert.Throws<ObjectDisposedException>(() => g.NextToken()));
                Assert.True(next.Wait(TimeSpan.FromSeconds(10)), "NextToken after Dispose did not return");
#pragma warning restore xUnit1031
                g.Dispose();
            }
        }
    }

    [Fact]
    public void Console_parity_names_its_own_flags_and_a_nan_bound_is_a_usage_error()
    {
        var (path, _, _) = _files.Write();
        var (exit, _, err) = ConsoleSampleTests.Run(null, "parity", "--model", path, "--tokens", "0");
        ConsoleSampleTests.AssertCleanError(exit, err, "--tokens", code: 2);
        Assert.DoesNotContain("--max-new-tokens", err);
        (exit, _, err) = ConsoleSampleTests.Run(null, "parity", "--model", path, "--bound", "NaN");
        ConsoleSampleTests.AssertCleanError(exit, err, "--bound", code: 2);
    }

    [Fact]
    public void Logits_that_overflow_are_one_error_line_in_the_console_on_every_backend()
    {
        // A finite final-LayerNorm gain so large that the logits overflow: the file passes every load check
        // (the backends agree: both overflow), and generation reports it instead of an unhandled exception.
        string path = Edited("overflow.onnx", m =>
        {
            int i = m.Graph.Initializers.FindIndex(t => t.Name == "ln_f.weight");
            m.Graph.Initializers[i] = OnnxTensor.FromFloats("ln_f.weight", m.Graph.Initializers[i].Dims, Enumerable.Repeat(3e38f, 16).ToArray());
        });
        foreach (var backend in new[] { "cpu", "managed" })
        {
            var (exit, _, err) = ConsoleSampleTests.Run(null, "--model", path, "--backend", backend, "--temperature", "0", "-n", "3", "ab");
            ConsoleSampleTests.AssertCleanError(exit, err, "non-finite logits", code: 1);
        }
    }
}
