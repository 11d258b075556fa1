"""The same training step in JAX, for comparison only (JAX is not a dependency of this project).

One epoch exactly as sine_wave.py's: TF 0.7's LSTM cell (one matrix over [x, h], gates i, j, f, o,
+1 on the forget gate) run over the 628 windows with `lax.scan`, the read-out W, b, the post's
error, global-norm clipping to 5 and Adam with epsilon 1e-8, all under one `jax.jit`.

    pip install jax            # in a separate environment
    python benchmarks/jax_reference.py [--hidden 256] [--epochs 100]

Prints one JSON line: the first epoch (trace + compile) and the median steady epoch in ms, each
epoch waited for (one `float(err)` per epoch, as the post's loop prints it) and overlapped (epoch i
read after step i + 1 is dispatched), and the peak memory in MB. benchmarks/bench.py --jax runs
this and sets the figures beside TensorFlow's.
"""

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sine_wave as sw  # noqa: E402  (NumPy only: gen_seq, gen_inputs and the settings)

CLIP_NORM = 5.0  # the post's clip_by_global_norm(..., 5.)
ADAM_EPSILON = 1e-8  # TF 0.7's AdamOptimizer's


def learning_rate(i):
    """The post's learning-rate chain as it runs (sine_wave.run): 1e-2, then 5e-3 after epoch 25."""
    return 5e-3 if i > 25 else 1e-2


def init(key, hidden, width):
    k1, k2, k3 = jax.random.split(key, 3)
    w_scale, b_scale = np.sqrt(3.0 / hidden), np.sqrt(3.0)
    return {
        "M": jax.random.uniform(k1, (width + hidden, 4 * hidden), minval=-0.1, maxval=0.1),
        "bias": jnp.zeros(4 * hidden),
        "W": jax.random.uniform(k2, (hidden, 1), minval=-w_scale, maxval=w_scale),
        "b": jax.random.uniform(k3, (1,), minval=-b_scale, maxval=b_scale),
    }


def forward(params, seq_input):
    hidden, width = params["W"].shape[0], seq_input.shape[1]
    # the input half, before the loop, as sine_wave.rnn
    x_proj = seq_input @ params["M"][:width] + params["bias"]

    def cell(carry, xp):
        c, h = carry
        i, j, f, o = jnp.split(xp + h @ params["M"][width:], 4)
        c = jax.nn.sigmoid(f + 1.0) * c + jax.nn.sigmoid(i) * jnp.tanh(j)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, h), h

    _, hs = jax.lax.scan(cell, (jnp.zeros(hidden), jnp.zeros(hidden)), x_proj)
    return hs @ params["W"] + params["b"]


def error(params, seq_input, seq_target):
    return jnp.sqrt(jnp.sum((forward(params, seq_input) - seq_target) ** 2))


@jax.jit
def train_step(params, m, v, t, lr, seq_input, seq_target):
    err, grads = jax.value_and_grad(error)(params, seq_input, seq_target)
    norm = jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree_util.tree_leaves(grads)))
    grads = jax.tree_util.tree_map(lambda g: g * CLIP_NORM / jnp.maximum(norm, CLIP_NORM), grads)
    t = t + 1
    m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
    v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
    step = lr * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
    params = jax.tree_util.tree_map(
        lambda p, m, v: p - step * m / (jnp.sqrt(v) + ADAM_EPSILON), params, m, v
    )
    return params, m, v, t, err


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, default=sw.num_hidden)
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args(argv)
    x, y = sw.gen_seq()
    seq_input, seq_target = (jnp.asarray(a, jnp.float32) for a in sw.gen_inputs(y, len(x) // 2, 0))
    params = init(jax.random.PRNGKey(sw.seed), args.hidden, sw.seq_width)
    m = v = jax.tree_util.tree_map(jnp.zeros_like, params)
    state, times, errors = (params, m, v, jnp.zeros((), jnp.float32)), [], []
    for i in range(args.epochs):  # each epoch waited for
        started = time.perf_counter()
        *state, err = train_step(*state, jnp.float32(learning_rate(i)), seq_input, seq_target)
        errors.append(float(err))
        times.append(time.perf_counter() - started)
    overlapped, pending, last = [], None, time.perf_counter()
    for i in range(
        args.epochs
    ):  # JAX dispatches asynchronously: step i + 1 is queued before epoch i is read
        *state, err = train_step(*state, jnp.float32(learning_rate(i)), seq_input, seq_target)
        if pending is not None:
            float(pending)
            overlapped.append(time.perf_counter() - last)
            last = time.perf_counter()
        pending = err
    print(
        json.dumps(
            {
                "jax": jax.__version__,
                "hidden": args.hidden,
                "first_ms": 1000 * times[0],
                "epoch_ms": 1000 * statistics.median(times[1:]),
                "overlapped_ms": 1000 * statistics.median(overlapped[1:]),
                "error": [errors[0], errors[-1]],
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
