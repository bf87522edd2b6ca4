"""What one optimizer step computes, shared by every rank: the loss of the objective (plain CE, or the
exit recipe's CE(full) + w * mean CE(exits)), the per-token exit depths, and the per-step seeds.

Randomness is a pure function of (seed, step, ...), so resume needs no generator state and any
number of ranks draws the same global per-token depths as one process would:
- dropout: torch's global generator, reseeded at every step from (seed, step, rank);
- per-token exit depths: a generator of their own, seeded from (seed, step, micro-batch), drawn for
  the whole global batch [B, T] on every rank, each rank keeping its own rows.
"""
import torch
import torch.nn.functional as F

from .data import _mix

_DROPOUT_SALT, _TOKEN_EXIT_SALT = 0xD50, 0x7E0


def seed_of(*parts):
    """A 63-bit seed mixed from integers (SplitMix64, as the batch sampler)."""
    h = 0
    for p in parts:
        h = _mix(h ^ (p & ((1 << 64) - 1)))
    return h & ((1 << 63) - 1)


def dropout_seed(seed, step, rank):
    return seed_of(_DROPOUT_SALT, seed, step, rank)


def token_exit_depths(config, options, step, micro, rows):
    """Depths [len(rows), T] (int64): with probability token_exit_rate a depth drawn uniformly from
    the config's exit depths, else L-1; drawn for all `options.batch` global rows, then sliced."""
    g = torch.Generator().manual_seed(seed_of(_TOKEN_EXIT_SALT, options.seed, step, micro))
    shape = (options.batch, options.context)
    early = torch.rand(shape, generator=g) < options.token_exit_rate                                  # [B, T]
    choices = torch.tensor(config.exit_depths, dtype=torch.long)
    pick = choices[torch.randint(0, len(choices), shape, generator=g)]                                 # [B, T]
    depths = torch.where(early, pick, torch.full_like(pick, config.n_layer - 1))
    return depths[rows.start:rows.stop]


def uses_exit_recipe(config, options, step):
    """Whether 0-based `step` trains the exit recipe: a config with exit depths, from --exit-from-step on."""
    return bool(config.exit_depths) and step >= options.exit_from_step


def loss(net, x, y, config, options, step, depths=None):
    """Mean CE over the rows of x [b, T] with targets y [b, T]; with the exit recipe (from
    --exit-from-step on), CE(full) + w * mean_e CE(exit e), full depth last (each token's own depth
    with per-token exits)."""
    v = config.vocab_size
    if not uses_exit_recipe(config, options, step):
        return F.cross_entropy(net(x).view(-1, v), y.reshape(-1))
    logits = net(x, list(config.all_exits), depths)
    full = F.cross_entropy(logits[-1].reshape(-1, v), y.reshape(-1))
    exits = torch.stack([F.cross_entropy(l.reshape(-1, v), y.reshape(-1)) for l in logits[:-1]])
    return full + options.exit_loss_weight * exits.mean()
