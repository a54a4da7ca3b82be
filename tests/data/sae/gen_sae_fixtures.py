#!/usr/bin/python3
"""Regenerates the SAE-format fixtures in tests/data/sae/.

Run with Debian's interpreter, which has python3-torch (1.13) and numpy:
    /usr/bin/python3 tests/data/sae/gen_sae_fixtures.py

Deterministic (torch.manual_seed). Writes
  goodfire_tiny_k_4.pt          Goodfire Evo 2 layout: a Module.state_dict() (OrderedDict with
                                _metadata) of {W [16, 64], b_enc [64], b_dec [16]}, every key
                                prefixed `_orig_mod.` as torch.compile does
  goodfire_tiny_k_4.input.npy   x [8, 16] float32
  goodfire_tiny_k_4.codes.npy   [8, 64] float32: Goodfire's encoding of x (ReLU(x W + b_enc),
                                then the top k*N = 32 values over all 8 rows kept, the rest 0)
  dl_tiny/ae.pt                 dictionary_learning BatchTopKSAE state dict (k 4, threshold 0.3)
  dl_tiny/config.json           its trainer config (dict_class BatchTopKSAE, ...)
  dl_tiny/codes.npy             [8, 64] float32: BatchTopKSAE.encode(x) with the threshold
"""
import collections
import json
import os

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
D_IN, D_SAE, K, N = 16, 64, 4, 8


class GoodfireSae(nn.Module):
    """The parameters of Goodfire's Evo 2 SAE (tied W, no b_dec subtraction)."""

    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.randn(D_IN, D_SAE) * 0.5)
        self.b_enc = nn.Parameter(torch.randn(D_SAE) * 0.2 - 0.1)
        self.b_dec = nn.Parameter(torch.randn(D_IN) * 0.1)

    def encode(self, x):
        # Goodfire's notebook: ReLU(x W + b_enc), then batch top-k over the flattened tensor.
        pre = torch.relu(x @ self.W + self.b_enc)
        flat = pre.flatten()
        values, indices = flat.topk(K * x.shape[0])
        out = torch.zeros_like(flat)
        out[indices] = values
        # The C++ test requires identical index sets: keep the cut well clear of ties.
        ordered = flat.sort(descending=True).values
        assert ordered[K * x.shape[0] - 1] - ordered[K * x.shape[0]] > 1e-3, "top-k cut too close"
        return out.view_as(pre)


class BatchTopKSAE(nn.Module):
    """saprmarks/dictionary_learning trainers/batch_top_k.py BatchTopKSAE (same registration
    order, so the same state-dict keys and order)."""

    def __init__(self):
        super().__init__()
        self.activation_dim, self.dict_size = D_IN, D_SAE
        self.register_buffer("k", torch.tensor(K, dtype=torch.int))
        self.register_buffer("threshold", torch.tensor(0.3, dtype=torch.float32))
        self.decoder = nn.Linear(D_SAE, D_IN, bias=False)
        self.encoder = nn.Linear(D_IN, D_SAE)
        with torch.no_grad():
            self.encoder.bias.copy_(torch.randn(D_SAE) * 0.1)
        self.b_dec = nn.Parameter(torch.randn(D_IN) * 0.1)

    def encode(self, x):
        post_relu = torch.relu(self.encoder(x - self.b_dec))
        assert (post_relu - self.threshold).abs().min() > 1e-4, "value too close to the threshold"
        return post_relu * (post_relu > self.threshold)


def main():
    torch.manual_seed(20250220)
    gf = GoodfireSae()
    x = torch.randn(N, D_IN)
    with torch.no_grad():
        codes = gf.encode(x)
    sd = gf.state_dict()
    prefixed = collections.OrderedDict(("_orig_mod." + k, v) for k, v in sd.items())
    prefixed._metadata = collections.OrderedDict(
        (("_orig_mod." + k) if k else "_orig_mod", v) for k, v in sd._metadata.items())
    torch.save(prefixed, os.path.join(HERE, "goodfire_tiny_k_4.pt"))
    np.save(os.path.join(HERE, "goodfire_tiny_k_4.input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(HERE, "goodfire_tiny_k_4.codes.npy"), codes.numpy().astype(np.float32))

    dl = BatchTopKSAE()
    os.makedirs(os.path.join(HERE, "dl_tiny"), exist_ok=True)
    torch.save(dl.state_dict(), os.path.join(HERE, "dl_tiny", "ae.pt"))
    with torch.no_grad():
        dl_codes = dl.encode(x)
    np.save(os.path.join(HERE, "dl_tiny", "codes.npy"), dl_codes.numpy().astype(np.float32))
    config = {
        "trainer": {
            "trainer_class": "BatchTopKTrainer",
            "dict_class": "BatchTopKSAE",
            "activation_dim": D_IN,
            "dict_size": D_SAE,
            "k": K,
            "layer": 2,
            "lm_name": "tiny-sdh",
            "submodule_name": "blocks.2",
            "seed": 20250220,
        },
        "buffer": {"d_submodule": D_IN, "ctx_len": 128},
    }
    with open(os.path.join(HERE, "dl_tiny", "config.json"), "w") as f:
        json.dump(config, f, indent=4)
        f.write("\n")


if __name__ == "__main__":
    main()
