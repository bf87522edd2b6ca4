"""A checkpoint directory is never half-written: a writer killed with SIGKILL at random moments
leaves a `last/` whose four files load and belong to the same step (or its `.last.old`, which the
reader puts back)."""
import glob
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


def keep_saving(directory, first_step, saved):
    """Saves back to back from `first_step` on, counting commits in `saved`; the weights carry the step
    in tok_emb.weight[0, 0], so a checkpoint mixing two saves would show."""
    model = ShortcutGpt(CONFIG)
    opt = create_optimizer(model, 1e-3, 0.1)
    model(torch.zeros(1, 4, dtype=torch.long)).sum().backward()
    opt.step()
    step = first_step
    while True:
        with torch.no_grad():
            model.tok_emb.weight[0, 0] = float(step)
        checkpoint.save_training_checkpoint(directory, model, opt, TokenizerSpec(), {"step": step, "options": {}})
        saved.value += 1
        step += 1


def test_sigkill_during_writes_never_leaves_a_half_written_checkpoint(tmp_path):
    directory = str(tmp_path / "last")
    rng = random.Random(1)
    ctx = multiprocessing.get_context("fork")
    interrupted_mid_write = 0
    for round_ in range(12):
        first, saved = 1000 * (round_ + 1), ctx.Value("i", 0)
        writer = ctx.Process(target=keep_saving, args=(directory, first, saved))
        writer.start()
        deadline = time.time() + 60
        while saved.value < 1:                                  # at least one commit in this round
            assert time.time() < deadline and writer.is_alive()
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        leftovers = glob.glob(str(tmp_path / ".last.*"))      # a temp dir or the renamed-aside old one
        interrupted_mid_write += bool(leftovers)
        config, _, tensors = checkpoint.load_weights(directory)          # recovers .last.old if needed
        state = checkpoint.read_state(directory)
        assert config == CONFIG
        assert first <= state["step"] and float(tensors["tok_emb.weight"][0, 0]) == state["step"]
        model = ShortcutGpt(CONFIG)
        optimizer_file.read_into(os.path.join(directory, checkpoint.OPTIMIZER_FILE), create_optimizer(model, 1e-3, 0.1))
    assert interrupted_mid_write > 0   # the kills did land inside writes, so the test exercised them
