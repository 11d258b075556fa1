"""The same training step in PyTorch, for comparison only (PyTorch is not a project dependency).

One epoch as sine_wave.py's: TF 0.7's LSTM cell over the 628 windows, the read-out W, b, the post's
error, global-norm clipping to 5 and Adam with epsilon 1e-8. Two forms: `lstm`, PyTorch's own fused
`nn.LSTM` holding the same weights (0.7's gates i, j, f, o permuted to PyTorch's i, f, g, o, the
forget gate's + 1 in its bias), and `cell`, 0.7's cell written out step by step in Python.

    pip install torch          # in a separate environment
    python benchmarks/torch_reference.py [--form lstm|cell] [--hidden 256] [--epochs 100]

Prints one JSON line: the first epoch and the median steady epoch in ms, each epoch waited for (one
`float(err)` per epoch, as the post's loop prints it), and the peak memory in MB.
"""

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sine_wave as sw  # noqa: E402  (NumPy only: gen_seq, gen_inputs and the settings)

CLIP_NORM = 5.0  # the post's clip_by_global_norm(..., 5.)
ADAM_EPSILON = 1e-8  # TF 0.7's AdamOptimizer's


def learning_rate(i):
    """The post's learning-rate chain as it runs (sine_wave.run): 1e-2, then 5e-3 after epoch 25."""
    return 5e-3 if i > 25 else 1e-2


def model(form, hidden, width):
    g = torch.Generator().manual_seed(sw.seed)
    M = torch.rand(width + hidden, 4 * hidden, generator=g) * 0.2 - 0.1  # 0.7's over [x, h]
    W = (torch.rand(hidden, 1, generator=g) * 2 - 1) * np.sqrt(3.0 / hidden)
    b = (torch.rand(1, generator=g) * 2 - 1) * np.sqrt(3.0)
    if form == "lstm":
        lstm = torch.nn.LSTM(width, hidden)
        i, j, f, o = M.split(hidden, dim=1)
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(torch.cat([i, f, j, o], 1)[:width].T)
            lstm.weight_hh_l0.copy_(torch.cat([i, f, j, o], 1)[width:].T)
            lstm.bias_ih_l0.copy_(
                torch.cat([torch.zeros(hidden), torch.ones(hidden), torch.zeros(2 * hidden)])
            )
            lstm.bias_hh_l0.zero_()
        W, b = torch.nn.Parameter(W), torch.nn.Parameter(b)
        params = [*lstm.parameters(), W, b]
        return params, lambda x: lstm(x[:, None])[0][:, 0] @ W + b
    M, B, W, b = (torch.nn.Parameter(t) for t in (M, torch.zeros(4 * hidden), W, b))

    def forward(x):
        from_inputs, c, h, hs = x @ M[:width] + B, torch.zeros(hidden), torch.zeros(hidden), []
        for xp in from_inputs:
            i, j, f, o = (xp + h @ M[width:]).split(hidden)
            c = torch.sigmoid(f + 1.0) * c + torch.sigmoid(i) * torch.tanh(j)
            h = torch.sigmoid(o) * torch.tanh(c)
            hs.append(h)
        return torch.stack(hs) @ W + b

    return [M, B, W, b], forward


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--form", choices=["lstm", "cell"], default="lstm")
    p.add_argument("--hidden", type=int, default=sw.num_hidden)
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args(argv)
    x, y = sw.gen_seq()
    seq_input, seq_target = (
        torch.tensor(a, dtype=torch.float32) for a in sw.gen_inputs(y, len(x) // 2, 0)
    )
    params, forward = model(args.form, args.hidden, sw.seq_width)
    optimizer = torch.optim.Adam(params, lr=0.0, eps=ADAM_EPSILON)
    times, errors = [], []
    for i in range(args.epochs):  # each epoch waited for
        started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(i)
        optimizer.zero_grad()
        err = torch.sqrt(torch.sum((forward(seq_input) - seq_target) ** 2))
        err.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP_NORM)
        optimizer.step()
        errors.append(float(err.detach()))
        times.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "form": args.form,
                "hidden": args.hidden,
                "threads": torch.get_num_threads(),
                "first_ms": 1000 * times[0],
                "epoch_ms": 1000 * statistics.median(times[1:]),
                "error": [errors[0], errors[-1]],
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
