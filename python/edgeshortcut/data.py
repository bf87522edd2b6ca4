"""Token streams, the train/held-out split and the batch sampler (docs/FORMAT.md sections 2 and 6).

The same as `src/Trainer/Data/*.cs`: a UTF-8 text is read as bytes (V = 256), a token file as
little-endian uint16 ids; the last floor(N/10) tokens validate; training windows are a pure function
of (seed, step, micro-batch, row), so the data position of a run is its step and every rank can draw
its own rows of the global batch without talking to the others.
"""
import os

import numpy as np
import torch

from .config import BYTE_KIND
from .errors import CorpusError

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


class TokenCorpus:
    """ids (np.uint16 [N]) with the tokenizer they were read with and a source name for messages."""

    def __init__(self, tokens, tokenizer, source):
        if len(tokens) and int(tokens.max()) >= tokenizer.vocab_size:
            i = int(np.argmax(tokens >= tokenizer.vocab_size))
            raise CorpusError(source, f"token {int(tokens[i])} at index {i} is outside the declared vocab (0..{tokenizer.vocab_size - 1})")
        self.tokens, self.tokenizer, self.source = tokens, tokenizer, source

    def __len__(self):
        return len(self.tokens)

    @staticmethod
    def load(path, tokenizer):
        """Bytes for `byte`, little-endian uint16 pairs for `token-file`."""
        if not os.path.isfile(path):
            raise CorpusError(path, "file not found")
        with open(path, "rb") as f:
            raw = f.read()
        if not raw:
            raise CorpusError(path, "file is empty")
        if tokenizer.kind == BYTE_KIND:
            return TokenCorpus(np.frombuffer(raw, dtype=np.uint8).astype(np.uint16), tokenizer, path)
        if len(raw) % 2:
            raise CorpusError(path, f"a uint16 token file has an even byte count, this one has {len(raw)}")
        return TokenCorpus(np.frombuffer(raw, dtype="<u2").astype(np.uint16), tokenizer, path)

    def split_last_tenth(self):
        """(train, validation): the last floor(N/10) tokens validate."""
        start = len(self) - len(self) // 10
        return (TokenCorpus(self.tokens[:start], self.tokenizer, f"{self.source} [train 0..{start})"),
                TokenCorpus(self.tokens[start:], self.tokenizer, f"{self.source} [validation {start}..{len(self)})"))

    def require_window(self, context, role):
        """Raises unless one window of `context` inputs plus its shifted target fits."""
        if len(self) < context + 1:
            raise CorpusError(self.source, f"the {role} data has {len(self)} tokens, shorter than one context window "
                                           f"({context} inputs + 1 target = {context + 1} tokens)")
        return self


def _mix(z):
    """SplitMix64's finaliser on a 64-bit value."""
    z = (z + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


class BatchSampler:
    """Row r of micro-batch `micro` of step `step` is the window starting at
    splitmix64(seed, step, micro, r) mod (N - T); rows are the global batch's, so rank k of w takes
    rows k*B/w .. (k+1)*B/w - 1 and the union over ranks is exactly the one-process batch."""

    def __init__(self, corpus, context, seed):
        corpus.require_window(context, "training")
        self.tokens = torch.from_numpy(corpus.tokens.astype(np.int64))
        self.context, self.seed = context, seed & _MASK

    def window_start(self, step, micro, row):
        h = _mix(self.seed ^ _mix(((step * _GOLDEN) & _MASK) ^ _mix(((micro << 32) | (row & 0xFFFFFFFF)) & _MASK)))
        return h % (len(self.tokens) - self.context)

    def batch(self, step, micro, rows):
        """(inputs, targets), each int64 [len(rows), T], for the given global row indices."""
        t = self.context
        starts = [self.window_start(step, micro, r) for r in rows]
        x = torch.stack([self.tokens[s:s + t] for s in starts])
        y = torch.stack([self.tokens[s + 1:s + t + 1] for s in starts])
        return x, y
