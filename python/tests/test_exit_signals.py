"""exit_signals.py (issue 10's offline comparison of early-exit signals): the curve arithmetic, the probe,
and one run on a trained checkpoint."""
import json
import os
import subprocess

import torch

from conftest import INTERPRETER, PYTHON_DIR, TINY, env, ok, train
from exit_signals import FRACTIONS, curve, fit_probe

SCRIPT = os.path.join(PYTHON_DIR, "exit_signals.py")


def test_the_curve_runs_from_full_depth_to_all_exits_and_exits_the_most_confident_positions_first():
    nll_exit = torch.tensor([1.0, 5.0, 2.0, 4.0], dtype=torch.float64)
    nll_full = torch.tensor([2.0, 2.0, 2.0, 2.0], dtype=torch.float64)
    score = torch.tensor([0.9, 0.1, 0.8, 0.2], dtype=torch.float64)   # positions 0 and 2 exit first
    values = dict(zip(FRACTIONS, curve(score, nll_exit, nll_full)))
    assert values[0.5] == (1.0 + 2.0 + 2.0 + 2.0) / 4       # round(0.5 * 4) = 2 exits: positions 0 and 2
    assert values[1.0] == nll_exit.mean().item()
    # An oracle ranking (by the gain of exiting) is never worse than any other ranking.
    oracle = curve(nll_full - nll_exit, nll_exit, nll_full)
    reversed_ranking = curve(-score, nll_exit, nll_full)
    assert all(o <= r + 1e-12 for o, r in zip(oracle, reversed_ranking))


def test_the_probe_recovers_a_linear_target_from_standardized_inputs():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 5, generator=g, dtype=torch.float64) * torch.tensor([1.0, 10.0, 0.1, 3.0, 1.0], dtype=torch.float64)
    y = x @ torch.tensor([0.5, -0.05, 4.0, 0.0, 1.0], dtype=torch.float64) + 2.0
    predicted = fit_probe(x, y, ridge=1e-8)(x)
    assert torch.allclose(predicted, y, atol=1e-4)


def test_it_compares_every_signal_on_a_trained_exit_model(tmp_path, corpus):
    out = tmp_path / "run"
    ok(train(["--data", corpus, "--out", str(out), *TINY, "--batch", "4", "--steps", "3", "--eval-every", "3",
              "--exit-depths", "1"]))
    result = subprocess.run([INTERPRETER, SCRIPT, "--checkpoint", str(out / "best"), "--data", corpus, "--positions", "64", "--json"],
                            capture_output=True, text=True, env=env(), timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["exit"] == 1 and report["positions"] == 64
    assert set(report["nll"]) == {"max_prob", "margin", "neg_entropy", "state_calm", "probe", "probe_states", "random", "oracle"}
    for values in report["nll"].values():
        assert abs(values[-1] - report["nll"]["random"][-1]) < 1e-9   # everyone exits at 100%: the same NLL
