#!/usr/bin/python3
"""Regenerates the checkpoint-format fixtures in tests/data/model/.

Run with Debian's interpreter, which has python3-torch (1.13):
    /usr/bin/python3 tests/data/model/gen_fixtures.py

Every tensor value is a closed formula (arange times an exact binary fraction), so the C++
tests recompute the expected values instead of reading dumps: keep the formulas here and in
tests/unit/model/torch_checkpoint_test.cpp / safetensors_test.cpp in step.
"""
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def out(name):
    return os.path.join(HERE, name)


def basic_state():
    """All ten safetensors dtypes, a transposed view, two tensors sharing one storage, a
    0-dim tensor, an empty tensor and an nn.Parameter (pickled through _rebuild_parameter)."""
    sd = collections.OrderedDict()
    sd["embedding_layer.weight"] = (torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5
                                    ).to(torch.bfloat16)
    sd["norm.scale"] = torch.arange(6, dtype=torch.float32) * 0.25 - 1.0
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5
    sd["blocks.0.proj.weight_t"] = base.t()                       # (4, 3), stride (1, 4)
    sd["blocks.0.ids"] = torch.arange(5, dtype=torch.int64) - 2
    shared = torch.arange(20, dtype=torch.float32) * 0.125
    sd["shared.a"] = shared[:8]                                   # offset 0
    sd["shared.b"] = shared[8:].view(3, 4)                        # offset 8, same storage
    sd["blocks.0.h"] = (torch.arange(6, dtype=torch.float32) * 0.5 - 1.0).to(torch.float16)
    sd["blocks.0.f64"] = torch.arange(3, dtype=torch.float64) / 3.0
    sd["blocks.0.i32"] = torch.arange(4, dtype=torch.int32) * -3
    sd["blocks.0.i16"] = torch.arange(4, dtype=torch.int16) * 1000
    sd["blocks.0.i8"] = torch.arange(4, dtype=torch.int8) - 2
    sd["blocks.0.u8"] = torch.arange(4, dtype=torch.uint8) * 60
    sd["blocks.0.mask"] = torch.arange(5) % 2 == 0
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = torch.nn.Parameter(torch.arange(4, dtype=torch.float32) * 2.0)
    return sd


class FakeTeLinear(torch.nn.Module):
    """Stands in for a Transformer Engine Linear: its extra state is an io.BytesIO holding a
    nested torch.save of a dict (TE's get_extra_state in the versions Evo 2 was trained with)."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(
            (torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25).to(torch.bfloat16))

    def get_extra_state(self):
        state = {"scale_fwd": torch.ones(2), "amax_history_fwd": torch.zeros(4, 2), "recipe": None}
        buf = io.BytesIO()
        torch.save(state, buf)
        return buf

    def set_extra_state(self, state):
        pass


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.projections = FakeTeLinear()
        self.register_buffer("t", torch.arange(4, dtype=torch.float32).reshape(1, 1, 4))


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding_layer = torch.nn.Embedding(4, 3)
        with torch.no_grad():
            self.embedding_layer.weight.copy_(torch.arange(12, dtype=torch.float32).reshape(4, 3) - 5)
        self.blocks = torch.nn.ModuleList([Block()])


def extra_state_state():
    """A real Module.state_dict() (an OrderedDict with a `_metadata` attribute, i.e. a BUILD)
    with a BytesIO `_extra_state`, plus a string and an int entry, an `unembed.weight` copy of
    the embedding and a savanna-style `filter.t` buffer (spec 3.4 extras)."""
    sd = Tiny().state_dict()
    # Rename to the official key shapes: blocks.0.filter.t (a buffer named "t" under "filter").
    sd["blocks.0.filter.t"] = sd.pop("blocks.0.t")
    sd["unembed.weight"] = sd["embedding_layer.weight"].clone()
    sd["note"] = "not a tensor"
    sd["step"] = 7
    return sd


def wrapped_state():
    inner = collections.OrderedDict()
    inner["a"] = torch.arange(3, dtype=torch.float32)
    inner["sub"] = {"c": torch.arange(2, dtype=torch.int64) + 10}
    return {"model": inner, "epoch": 3, "optimizer": "adam"}


def fixed_time(name):
    """A ZipInfo with a constant timestamp, so reruns give identical bytes."""
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def rewrite_zip(src, dst, keep=lambda name: True, method=lambda name: zipfile.ZIP_STORED,
                force_zip64=False):
    """Copies the entries of `src` into a new archive with Python's zipfile."""
    saved_limit = zipfile.ZIP64_LIMIT
    if force_zip64:
        # Every size and offset above 16 bytes then goes through the ZIP64 extra fields and the
        # ZIP64 end-of-central-directory record, as in real multi-GiB checkpoints.
        zipfile.ZIP64_LIMIT = 16
    try:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
            for info in zin.infolist():
                if keep(info.filename):
                    zout.writestr(fixed_time(info.filename), zin.read(info.filename),
                                  compress_type=method(info.filename))
    finally:
        zipfile.ZIP64_LIMIT = saved_limit


def split(path, n_parts):
    data = open(path, "rb").read()
    cuts = [len(data) * i // n_parts for i in range(n_parts + 1)]
    for i in range(n_parts):
        with open(f"{path}.part{i}", "wb") as f:
            f.write(data[cuts[i]:cuts[i + 1]])


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


ST_CODES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
            torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
            torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def write_reference_safetensors(path, tensors, metadata):
    """safetensors written by hand (struct + json), independent of the C++ writer. No header
    padding, so the data section starts at an odd offset: readers must cope with misalignment."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        b = raw_bytes(t)
        header[name] = {"dtype": ST_CODES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(0)
    torch.save(basic_state(), out("basic.pt"))
    torch.save(extra_state_state(), out("extra_state.pt"))
    torch.save(wrapped_state(), out("wrapped.pt"))
    split(out("extra_state.pt"), 3)
    os.replace(out("extra_state.pt.part0"), out("split.pt.part0"))
    os.replace(out("extra_state.pt.part1"), out("split.pt.part1"))
    os.replace(out("extra_state.pt.part2"), out("split.pt.part2"))
    rewrite_zip(out("basic.pt"), out("basic_zip64.pt"), force_zip64=True)
    rewrite_zip(out("basic.pt"), out("basic_deflated.pt"),
                method=lambda n: zipfile.ZIP_STORED if n.endswith(".pkl") else zipfile.ZIP_DEFLATED)
    rewrite_zip(out("basic.pt"), out("basic_missing_storage.pt"),
                keep=lambda n: not n.endswith("/data/1"))
    # Protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE) instead of torch's default 2.
    torch.save(basic_state(), out("basic_proto4.pt"), pickle_protocol=4)
    # Pickles a state-dict reader must refuse cleanly: protocol 0 text opcodes, and a dict that
    # contains itself.
    with zipfile.ZipFile(out("bad_opcode.pt"), "w") as z:
        z.writestr(fixed_time("bad_opcode/data.pkl"), pickle.dumps({"a": 1}, protocol=0))
    cyclic = {}
    cyclic["self"] = cyclic
    with zipfile.ZipFile(out("self_ref.pt"), "w") as z:
        z.writestr(fixed_time("self_ref/data.pkl"), pickle.dumps(cyclic, protocol=2))
    sd = basic_state()
    ref = collections.OrderedDict((k, v.detach()) for k, v in sd.items()
                                  if k not in ("shared.a", "shared.b"))
    write_reference_safetensors(out("reference.safetensors"), ref,
                                {"format": "pt", "evoscope.config": "model_name: tiny\nhidden_size: 6\n"})


if __name__ == "__main__":
    main()
