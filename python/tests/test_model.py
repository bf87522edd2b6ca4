"""The Python model's own invariants (its agreement with the C# model is pinned by the C# tests:
tests/Python/TrainerLockstepTests.cs): parameter names and order are the contract's, an exit at the
full depth is the full model, and per-token depths reduce to the exits they describe."""
import io

import pytest
import torch

from edgeshortcut import optimizer_file, safetensors
from edgeshortcut.config import ModelConfig, read_config, write_config, TokenizerSpec
from edgeshortcut.errors import InvalidModelConfigError
from edgeshortcut.model import ShortcutGpt
from edgeshortcut.optimizer import create_optimizer, learning_rate
from edgeshortcut.tensor_names import tensor_names

CONFIG = ModelConfig.create(layers=4, dim=16, heads=2, context=8).with_(taps=(1, 2, 3), exit_depths=(1, 2))


def model(config=CONFIG, seed=0):
    torch.manual_seed(seed)
    return ShortcutGpt(config).eval()


def ids(b=2, t=8):
    return torch.randint(0, 256, (b, t), generator=torch.Generator().manual_seed(1))


def test_parameters_are_the_contract_tensors_in_order():
    for c in (CONFIG, CONFIG.with_(taps=(), exit_depths=()), CONFIG.with_(tied_embeddings=False, taps=(2,), exit_depths=(2,))):
        assert [(n, list(p.shape)) for n, p in model(c).named_parameters()] == tensor_names(c)


def test_exit_at_full_depth_is_the_full_model_and_exits_differ():
    m, x = model(), ids()
    with torch.no_grad():
        full = m(x)
        e1, e2, e3 = m(x, [1, 2, 3])
    assert torch.allclose(full, e3, atol=1e-6)
    assert not torch.allclose(e1, e3, atol=1e-3) and not torch.allclose(e2, e3, atol=1e-3)


def test_per_token_depths_reduce_to_the_exits():
    m, x = model(), ids()
    with torch.no_grad():
        exits = m(x, [1, 2, 3])
        all_full = m(x, [1, 2, 3], torch.full_like(x, 3))
        all_at_1 = m(x, [3], torch.full_like(x, 1))[0]
    for a, b in zip(exits, all_full):
        assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(all_at_1, exits[0], atol=1e-5)   # every token at depth 1: the exit at 1


def test_a_token_that_exits_early_changes_no_earlier_prediction():
    m, x = model(), ids(1, 8)
    depths = torch.full_like(x, 3)
    depths[0, 5] = 1
    with torch.no_grad():
        a = m(x, [3], depths)[0]
        b = m(x, [3])[0]
    assert torch.allclose(a[0, :5], b[0, :5], atol=1e-5)      # causal: positions before 5 are untouched
    assert not torch.allclose(a[0, 5:], b[0, 5:], atol=1e-4)


def test_config_validation_names_the_field_like_the_csharp_config():
    with pytest.raises(InvalidModelConfigError, match=r"'exit_depths' = 3 each exit depth must be in 1\.\.2"):
        CONFIG.with_(exit_depths=(3,)).validate()
    with pytest.raises(InvalidModelConfigError, match=r"'n_head' = 3 must divide d_model \(16\)"):
        CONFIG.with_(n_head=3).validate()


def test_checkpoint_files_round_trip(tmp_path):
    m = model()
    with open(tmp_path / "model.safetensors", "wb") as f:
        safetensors.write(f, list(m.state_dict().items()), {"format": "pt"})
    write_config(str(tmp_path), CONFIG, TokenizerSpec())
    tensors, meta = safetensors.read(str(tmp_path / "model.safetensors"))
    assert meta == {"format": "pt"} and list(tensors) == [n for n, _ in tensor_names(CONFIG)]
    assert all(torch.equal(tensors[n], p) for n, p in m.state_dict().items())
    assert (tmp_path / "model.safetensors").read_bytes()[8:].index(b'"tok_emb.weight"') > 0
    assert read_config(str(tmp_path)) == (CONFIG, TokenizerSpec())


def test_optimizer_state_round_trips_byte_for_byte(tmp_path):
    m = model()
    opt = create_optimizer(m, 1e-3, 0.1)
    m(ids()).sum().backward()
    opt.step()
    first = io.BytesIO()
    optimizer_file.write(first, opt)
    other = create_optimizer(model(seed=1), 1e-3, 0.1)
    (tmp_path / "optimizer.bin").write_bytes(first.getvalue())
    optimizer_file.read_into(str(tmp_path / "optimizer.bin"), other)
    second = io.BytesIO()
    optimizer_file.write(second, other)
    assert first.getvalue() == second.getvalue()
    assert first.getvalue().startswith(b"\x05AdamW\x02")


def test_schedule_is_warmup_then_cosine_to_the_minimum():
    assert learning_rate(0, 10, 1e-3, 1e-4, 2) == pytest.approx(5e-4)
    assert learning_rate(2, 10, 1e-3, 1e-4, 2) == pytest.approx(1e-3)
    assert learning_rate(9, 10, 1e-3, 1e-4, 2) == pytest.approx(1e-4)
