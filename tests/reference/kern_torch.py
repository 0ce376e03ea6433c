#!/usr/bin/env python3
"""PyTorch's float32 results for the kern row operations, for tests/unit/test_kern.c.

    kern_torch.py IN OUT N
IN: N float32 values. OUT: 5 × N float32: gelu (exact, erf), gelu (tanh), silu, softmax over
all N, layer norm over all N (eps 1e-12, no affine). Exits 3 when torch is missing."""
import sys

import numpy as np

try:
    import torch
except ImportError:
    sys.exit(3)

n = int(sys.argv[3])
x = torch.from_numpy(np.fromfile(sys.argv[1], dtype=np.float32, count=n).copy())
outs = [
    torch.nn.functional.gelu(x),
    torch.nn.functional.gelu(x, approximate="tanh"),
    torch.nn.functional.silu(x),
    torch.softmax(x, dim=0),
    torch.nn.functional.layer_norm(x, (n,), eps=1e-12),
]
np.concatenate([o.numpy().astype(np.float32) for o in outs]).tofile(sys.argv[2])
