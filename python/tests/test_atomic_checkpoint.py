"""A checkpoint directory is never half-written: a writer killed with SIGKILL at random moments
leaves a `last/` whose four files load and belong to the same step (or its `.last.old`, which the
reader puts back)."""
import multiprocessing
import os
import random
import signal
import time

import torch

from edgeshortcut import checkpoint, optimizer_file
from edgeshortcut.config import ModelConfig, TokenizerSpec
from edgeshortcut.model import ShortcutGpt
from edgeshortcut.optimizer import create_optimizer

CONFIG = ModelConfig.create(layers=3, dim=32, heads=2, context=32)


def keep_saving(directory):
    """Saves forever; the weights carry the step in tok_emb.weight[0, 0] so a mix would show."""
    model = ShortcutGpt(CONFIG)
    opt = create_optimizer(model, 1e-3, 0.1)
    model(torch.zeros(1, 4, dtype=torch.long)).sum().backward()
    opt.step()
    step = 0
    while True:
        step += 1
        with torch.no_grad():
            model.tok_emb.weight[0, 0] = float(step)
        checkpoint.save_training_checkpoint(directory, model, opt, TokenizerSpec(), {"step": step, "options": {}})


def test_sigkill_during_writes_never_leaves_a_half_written_checkpoint(tmp_path):
    directory = str(tmp_path / "last")
    rng = random.Random(1)
    ctx = multiprocessing.get_context("fork")
    seen = set()
    for _ in range(12):
        writer = ctx.Process(target=keep_saving, args=(directory,))
        writer.start()
        while not os.path.isdir(directory) and not os.path.isdir(str(tmp_path / ".last.old")):
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        config, _, tensors = checkpoint.load_weights(directory)          # recovers .last.old if needed
        state = checkpoint.read_state(directory)
        assert config == CONFIG
        assert float(tensors["tok_emb.weight"][0, 0]) == state["step"]
        model = ShortcutGpt(CONFIG)
        optimizer_file.read_into(os.path.join(directory, checkpoint.OPTIMIZER_FILE), create_optimizer(model, 1e-3, 0.1))
        seen.add(state["step"])
    assert len(seen) > 1   # the kills landed at different moments
