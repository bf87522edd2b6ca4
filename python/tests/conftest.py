"""Shared helpers of the Python tests: a small corpus, and train.py / eval.py / launch.py run the way
users run them (subprocesses; torchrun through launch.py), one thread per process."""
import os
import random
import re
import subprocess
import sys

import pytest

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PYTHON_DIR)
INTERPRETER = "/usr/bin/python3"
TRAIN, EVAL, LAUNCH = (os.path.join(PYTHON_DIR, f) for f in ("train.py", "eval.py", "launch.py"))
# The tiny model of every test: a few thousand parameters, a step takes milliseconds.
TINY = ["--layers", "3", "--dim", "32", "--heads", "2", "--context", "32", "--threads", "1"]


def env():
    e = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    e.pop("WORLD_SIZE", None)
    return e


def write_corpus(path, size=12000, seed=42):
    """A learnable but non-trivial text: words from a small vocabulary (some multi-byte) in a seeded order."""
    rng = random.Random(seed)
    words = ["the ", "cat ", "sat ", "on ", "a ", "mat. ", "über ", "naïve ", "\n"]
    text = ""
    while len(text.encode("utf-8")) < size:
        text += rng.choice(words)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "data.txt")


def train(args, timeout=120):
    """One process: python3 train.py ARGS -> CompletedProcess (text)."""
    return subprocess.run([INTERPRETER, TRAIN, *args], capture_output=True, text=True, env=env(), timeout=timeout)


def launch_args(nproc, args):
    return [INTERPRETER, LAUNCH, "--standalone", "--nproc_per_node", str(nproc), "--monitor_interval", "1", TRAIN, *args]


def launch(nproc, args, timeout=180):
    """torchrun --standalone --nproc_per_node N train.py ARGS -> CompletedProcess (text)."""
    return subprocess.run(launch_args(nproc, args), capture_output=True, text=True, env=env(), timeout=timeout)


def losses(stdout):
    """{step: loss} from rank 0's "step S/N loss X" lines."""
    return {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"^step (\d+)/\d+ loss (\S+)", stdout, re.M)}


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result
