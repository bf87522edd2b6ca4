#!/usr/bin/python3
"""`torchrun`, fixed for Debian 12's torch 1.13 under Python 3.11. Use it exactly like torchrun:

    /usr/bin/python3 python/launch.py --standalone --nproc_per_node 2 python/train.py --data TEXT --out DIR

Why: torch 1.13's launcher parses `--redirects`/`--tee` (default "0") with `Std.from_str`, which looks
the value up by iterating the IntFlag `Std`; since Python 3.11 that iteration skips the zero member
NONE, so "0" becomes None and every launch dies in `to_map` ("'NoneType' object has no attribute
'get'") before a worker starts. This wrapper makes "0" map to Std.NONE and then runs torch's own
torchrun (torch.distributed.run.main) unchanged. Where torchrun works (torch >= 2.0, or Python <=
3.10), the plain `torchrun` command is the same thing.

It also gives `--standalone` a free port: torch 1.13 hosts the standalone rendezvous on the fixed port
29400, so two standalone jobs on one machine (two users, or tests running side by side) collide;
torch 2.x picks a free port, and so does this wrapper.
"""
import socket
import sys

from torch.distributed.elastic.multiprocessing import api as _api
from torch.distributed import run as _run


def _fix_std_from_str():
    original = _api.Std.from_str.__func__

    def from_str(cls, vm):
        parsed = original(cls, vm)
        if parsed is None:
            return cls(int(vm))
        if isinstance(parsed, dict):
            return {rank: cls.NONE if std is None else std for rank, std in parsed.items()}
        return parsed
    _api.Std.from_str = classmethod(from_str)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _standalone_on_a_free_port():
    original = _run.config_from_args

    def config_from_args(args):
        if args.standalone and args.rdzv_endpoint == "localhost:29400":
            args.rdzv_endpoint = f"localhost:{_free_port()}"
        return original(args)
    _run.config_from_args = config_from_args


if __name__ == "__main__":
    if _api.Std.from_str("0") is None:
        _fix_std_from_str()
    _standalone_on_a_free_port()
    sys.exit(_run.main())
