"""2 processes with global batch B give the loss of 1 process with batch B at every step: the test
that the batch split and DDP's gradient averaging are right, not merely that the job runs."""
import os

import torch

from conftest import TINY, launch, losses, ok, train
from edgeshortcut import safetensors

# Plain steps, then (from step 3) the exit recipe with per-token exits, and gradient accumulation: every path of a step.
RUN = [*TINY, "--steps", "8", "--batch", "8", "--grad-accum", "2", "--exit-depths", "1", "--exit-loss-weight", "0.5",
       "--token-exit-rate", "0.3", "--exit-from-step", "3", "--lr", "3e-3", "--warmup", "2", "--eval-every", "4", "--dropout", "0", "--seed", "5"]


def test_two_processes_match_one_process_at_every_step(tmp_path, corpus):
    one = ok(train(["--data", corpus, "--out", str(tmp_path / "one"), *RUN]))
    two = ok(launch(2, ["--data", corpus, "--out", str(tmp_path / "two"), *RUN]))
    a, b = losses(one.stdout), losses(two.stdout)
    assert sorted(a) == list(range(1, 9)) and sorted(b) == sorted(a)
    for step in a:
        assert abs(a[step] - b[step]) <= 2e-6 * abs(a[step]), f"step {step}: 1 process {a[step]}, 2 processes {b[step]}"
    wa, _ = safetensors.read(os.path.join(tmp_path, "one", "last", "model.safetensors"))
    wb, _ = safetensors.read(os.path.join(tmp_path, "two", "last", "model.safetensors"))
    worst = max(float((wa[n] - wb[n]).abs().max()) for n in wa)
    assert worst < 1e-5, f"weights after 8 steps differ by {worst}"
    # Sanity: the runs trained in both phases (a broken averaging that zeroed gradients would also "agree"),
    # and step 4 switched to the recipe (CE + 0.5 CE of the exit: a jump of about half the loss).
    assert a[3] < a[1] - 0.1 and a[8] < a[4] - 0.1
    assert a[4] > 1.3 * a[3]
    # And the second rank really had different rows: its share of step 1 is not the whole batch.
    assert "4 per rank" in two.stdout
