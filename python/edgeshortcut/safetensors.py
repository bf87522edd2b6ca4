"""The standard safetensors container, fp32 only, written and read by hand (no safetensors package):
8-byte little-endian header length N, N bytes of JSON
`{name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}`
(padded with spaces to a multiple of 8, as the reference writer does), then the raw little-endian data.
The reader treats the header as hostile: every size and offset is checked before use.
"""
import json
import struct

import numpy as np
import torch

from .errors import CheckpointFormatError

MAX_HEADER_BYTES = 64 << 20


def write(stream, tensors, metadata=None):
    """Writes [(name, tensor)] in order to a binary stream; tensors are converted to contiguous fp32."""
    arrays = [(name, t.detach().to("cpu", torch.float32).contiguous().numpy()) for name, t in tensors]
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in arrays:
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * ((8 - len(raw) % 8) % 8)
    stream.write(struct.pack("<Q", len(raw)))
    stream.write(raw)
    for _, a in arrays:
        stream.write(a.astype("<f4", copy=False).tobytes())


def read(path):
    """Returns ({name: fp32 tensor}, metadata). Raises CheckpointFormatError on a missing, truncated
    or malformed file, a non-F32 dtype, or offsets that do not match the shapes."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CheckpointFormatError(path, "file not found") from None
    if len(data) < 8:
        raise CheckpointFormatError(path, f"truncated: {len(data)} bytes, a safetensors file starts with an 8-byte header length")
    n = struct.unpack_from("<Q", data)[0]
    if n > MAX_HEADER_BYTES or n > len(data) - 8:
        raise CheckpointFormatError(path, f"header length {n} exceeds the file ({len(data)} bytes) or the {MAX_HEADER_BYTES}-byte limit: truncated or not a safetensors file")
    try:
        header = json.loads(data[8:8 + n])
        if not isinstance(header, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointFormatError(path, f"header is not a JSON object: {e}") from e
    body = memoryview(data)[8 + n:]
    tensors, metadata = {}, header.pop("__metadata__", {}) or {}
    for name, entry in header.items():
        try:
            dtype, shape, (begin, end) = entry["dtype"], [int(s) for s in entry["shape"]], entry["data_offsets"]
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointFormatError(path, f"tensor '{name}' has a malformed header entry ({e})") from e
        if dtype != "F32":
            raise CheckpointFormatError(path, f"tensor '{name}' has dtype {dtype}; only F32 is supported")
        count = int(np.prod(shape)) if shape else 1
        if any(s < 0 for s in shape):
            raise CheckpointFormatError(path, f"tensor '{name}' has a negative dimension")
        if not 0 <= begin <= end <= len(body):
            raise CheckpointFormatError(path, f"tensor '{name}' data_offsets [{begin},{end}] lie outside the {len(body)}-byte data section (truncated file?)")
        if end - begin != 4 * count:
            raise CheckpointFormatError(path, f"tensor '{name}' has {end - begin} bytes but shape {shape} needs {4 * count}")
        tensors[name] = torch.from_numpy(np.frombuffer(body[begin:end], dtype="<f4").reshape(shape).astype(np.float32))
    return tensors, metadata
