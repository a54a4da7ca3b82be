#!/usr/bin/env python3
"""Records `evoscope.trained_context` (tokens per training window) in a model file's safetensors
metadata, in place, leaving every tensor byte unchanged (only the JSON header changes; tensor
offsets are relative to the data section, so they stay valid). For model files written before
`model train` recorded it, e.g. the shipped data/models/evoscope-small.safetensors (1025: trained
with --window 1024).

    python3 scripts/set-trained-context.py MODEL.safetensors TOKENS
"""
import json
import os
import struct
import sys

KEY = "evoscope.trained_context"


def main():
    if len(sys.argv) != 3 or not sys.argv[2].isdigit() or int(sys.argv[2]) < 2:
        sys.exit(__doc__)
    path, tokens = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    data = blob[8 + n :]
    meta = dict(header.get("__metadata__", {}))
    meta[KEY] = tokens
    # As evoscope's writer: compact JSON, metadata first with its keys sorted, then the tensors in
    # file order, padded with spaces to 8-byte alignment.
    header = {"__metadata__": dict(sorted(meta.items())), **{k: v for k, v in header.items() if k != "__metadata__"}}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    os.replace(tmp, path)
    print(f"{path}: {KEY} = {tokens}; {len(data)} tensor bytes unchanged")


if __name__ == "__main__":
    main()
