using EdgeShortcut.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace EdgeShortcut.Trainer.Model;

/// <summary>Moves a <see cref="ShortcutGpt"/>'s parameters to and from the contract's named fp32
/// tensors (docs/FORMAT.md section 3), so checkpoints go through Core's safetensors writer and
/// reader and are checked by name and shape on the way in.</summary>
public static class ModelWeights
{
    /// <summary>Every parameter as a <see cref="NamedTensor"/>, in <see cref="TensorNames.All"/> order.
    /// Throws if the module's keys and the contract differ (a renamed field would be caught here).</summary>
    public static List<NamedTensor> Export(ShortcutGpt model)
    {
        var state = model.state_dict();
        var result = new List<NamedTensor>();
        foreach (var (name, shape) in TensorNames.All(model.Config))
        {
            if (!state.TryGetValue(name, out var t)) throw new InvalidOperationException($"Model has no parameter '{name}' required by docs/FORMAT.md.");
            using var cpu = t.detach().cpu().contiguous().to_type(ScalarType.Float32);
            result.Add(new NamedTensor(name, shape, cpu.data<float>().ToArray()));
        }
        if (state.Count != result.Count)
        {
            var extra = state.Keys.Except(result.Select(r => r.Name));
            throw new InvalidOperationException($"Model has parameters outside the contract: {string.Join(", ", extra)}.");
        }
        return result;
    }

    /// <summary>Copies <paramref name="tensors"/> into the model's parameters. The set must be exactly
    /// the contract's (use <see cref="Checkpoint.CheckTensors"/> first for a file-level message).</summary>
    public static void Import(ShortcutGpt model, IReadOnlyDictionary<string, NamedTensor> tensors)
    {
        Checkpoint.CheckTensors("(in-memory weights)", model.Config, tensors);
        var state = model.state_dict();
        using var _ = no_grad();
        foreach (var (name, _) in TensorNames.All(model.Config))
        {
            var src = tensors[name];
            using var value = tensor(src.Data, src.Shape.Select(s => (long)s).ToArray());
            state[name].copy_(value);
        }
    }
}
