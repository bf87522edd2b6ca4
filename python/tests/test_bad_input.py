"""Bad input gives a clear error, exit code 2 (usage) from each process, on every rank, and no hang."""
import os
import shutil
import subprocess

import pytest
import torch.multiprocessing as mp

from conftest import EVAL, INTERPRETER, TINY, env, launch, ok, train, write_corpus
from edgeshortcut.errors import UsageError

RUN = [*TINY, "--batch", "4", "--eval-every", "2", "--steps", "2"]


def assert_every_rank_failed(result, text):
    assert result.returncode != 0
    for rank in (0, 1):
        assert f"rank {rank}: error:" in result.stderr, result.stderr[-3000:]
    assert text in result.stderr, result.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A shortcut run and a baseline run of 2 steps on one corpus, trained once for the module."""
    root = tmp_path_factory.mktemp("runs")
    data = write_corpus(root / "data.txt")
    ok(train(["--data", data, "--out", str(root / "shortcut"), *RUN]))
    ok(train(["--data", data, "--out", str(root / "baseline"), "--arch", "baseline", *RUN]))
    return root


def copy_run(runs, name, tmp_path):
    return shutil.copytree(runs / name, tmp_path / name)


def test_checkpoint_of_another_architecture_stops_every_rank(tmp_path, runs):
    shortcut, baseline = str(copy_run(runs, "shortcut", tmp_path)), str(runs / "baseline")
    corpus = str(runs / "data.txt")
    for name in ("config.json", "model.safetensors"):   # a baseline's model where the shortcut run's should be
        shutil.copy(os.path.join(baseline, "last", name), os.path.join(shortcut, "last", name))
    r = launch(2, ["--data", corpus, "--out", shortcut, "--steps", "4", "--resume"], timeout=120)
    assert_every_rank_failed(r, "model config differs from the run's options")


def test_truncated_weights_stop_every_rank(tmp_path, runs):
    out, corpus = str(copy_run(runs, "shortcut", tmp_path)), str(runs / "data.txt")
    weights = os.path.join(out, "last", "model.safetensors")
    with open(weights, "r+b") as f:
        f.truncate(os.path.getsize(weights) // 2)
    r = launch(2, ["--data", corpus, "--out", out, "--steps", "4", "--resume"], timeout=120)
    assert_every_rank_failed(r, "lie outside the")


def test_global_batch_must_split_evenly(tmp_path, corpus):
    r = launch(2, ["--data", corpus, "--out", str(tmp_path / "run"), *TINY, "--batch", "3", "--steps", "1"], timeout=120)
    assert_every_rank_failed(r, "--batch 3 is the global batch and must be a multiple of the number of processes (2)")


def _rank_body(rank, store_path, results):
    import torch.distributed as dist
    from edgeshortcut.distributed import Dist, agree
    dist.init_process_group("gloo", init_method=f"file://{store_path}", rank=rank, world_size=2)
    d = Dist(rank, 2, rank, 2, None, "gloo")

    def action():
        if rank == 1:
            raise UsageError("only rank 1 cannot read its data")
        return "fine"
    try:
        agree(d, action)
        results[rank] = "no error"
    except UsageError as e:
        results[rank] = str(e)
    dist.destroy_process_group()


def test_an_error_on_one_rank_reaches_the_others(tmp_path):
    results = mp.get_context("spawn").Manager().dict()
    mp.spawn(_rank_body, args=(str(tmp_path / "store"), results), nprocs=2, join=True)
    assert results[1] == "only rank 1 cannot read its data"
    assert results[0] == "stopped because rank 1 failed: only rank 1 cannot read its data"


@pytest.mark.parametrize("args, code, text", [
    (["--out", "x", "--layers", "two"], 2, "invalid int value: 'two'"),
    (["--data", "/definitely/missing.txt", "--out", "x"], 2, "error: /definitely/missing.txt: file not found"),
    (["--data", "DATA", "--out", "x", "--heads", "3", "--dim", "32"], 2, "error: --heads: Invalid model config: 'n_head' = 3 must divide d_model (32)."),
    (["--data", "DATA", "--out", "x", "--token-exit-rate", "0.5"], 2, "error: --token-exit-rate requires --exit-depths"),
    (["--data", "DATA", "--out", "OUT", "--steps", "2", "--resume"], 2, "training_state.json not found"),
])
def test_single_process_usage_errors_exit_2_with_one_line(tmp_path, corpus, args, code, text):
    args = [a.replace("DATA", corpus).replace("OUT", str(tmp_path / "none")) for a in args]
    r = train(args)
    assert r.returncode == code, r.stderr
    assert text in r.stderr
    assert "Traceback" not in r.stderr


def test_eval_of_a_missing_or_foreign_checkpoint_exits_2(tmp_path, corpus):
    r = subprocess.run([INTERPRETER, EVAL, "--checkpoint", str(tmp_path / "missing")], capture_output=True, text=True, env=env())
    assert r.returncode == 2 and "checkpoint directory not found" in r.stderr
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text('{"format": "something-else", "format_version": 1, "model": {}, "tokenizer": {}}')
    r = subprocess.run([INTERPRETER, EVAL, "--checkpoint", str(foreign), "--data", corpus], capture_output=True, text=True, env=env())
    assert r.returncode == 2 and "format is 'something-else', expected 'edgeshortcut-checkpoint'" in r.stderr
