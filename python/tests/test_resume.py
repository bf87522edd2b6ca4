"""Exact resume: a run stopped at a checkpoint and resumed ends bit-for-bit where an uninterrupted
run ends (weights, optimizer state, log), because every random draw is a function of the step."""
import os

from conftest import TINY, ok, train
from edgeshortcut import safetensors

RUN = [*TINY, "--batch", "4", "--grad-accum", "2", "--dropout", "0.1", "--lr", "3e-3", "--warmup", "2", "--eval-every", "3", "--seed", "9"]


def read(out, name):
    with open(os.path.join(out, "last", name), "rb") as f:
        return f.read()


def test_resumed_run_equals_uninterrupted_run(tmp_path, corpus):
    whole, split = str(tmp_path / "whole"), str(tmp_path / "split")
    ok(train(["--data", corpus, "--out", whole, "--steps", "6", *RUN]))
    ok(train(["--data", corpus, "--out", split, "--steps", "3", *RUN]))
    resumed = ok(train(["--data", corpus, "--out", split, "--steps", "6", "--resume", "--threads", "1"]))
    assert "step 4/6" in resumed.stdout and "step 1/6" not in resumed.stdout
    assert read(whole, "model.safetensors") == read(split, "model.safetensors")
    assert read(whole, "optimizer.bin") == read(split, "optimizer.bin")
    with open(os.path.join(whole, "log.csv")) as f, open(os.path.join(split, "log.csv")) as g:
        strip = lambda rows: [r.rsplit(",", 1)[0] for r in rows.splitlines()]   # elapsed_s differs
        assert strip(f.read()) == strip(g.read())


def test_resume_refuses_changed_settings(tmp_path, corpus):
    out = str(tmp_path / "run")
    ok(train(["--data", corpus, "--out", out, "--steps", "2", *RUN]))
    r = train(["--data", corpus, "--out", out, "--steps", "4", "--resume", "--lr", "1e-2", "--arch", "baseline"])
    assert r.returncode == 2
    assert "these cannot change: --arch, --lr" in r.stderr
