"""The same training step in JAX, for comparison only (JAX is not a dependency of this project).

One epoch exactly as sine_wave.py's: TF 0.7's LSTM cell (one matrix over [x, h], gates i, j, f, o,
+1 on the forget gate) run over the 628 windows with `lax.scan`, the read-out W, b, the post's
error, global-norm clipping to 5 and Adam with epsilon 1e-8, all under one `jax.jit`.

    pip install jax            # in a separate environment
    python benchmarks/jax_reference.py [--epochs 200] [--lengths 314 628 1256]
    XLA_FLAGS=--xla_dump_to=/tmp/jax-hlo python benchmarks/jax_reference.py --epochs 3

Prints the median steady-state epoch in ms (one `float(err)` sync per epoch), the compiled work
alone (50 epochs in one jit call, per epoch) and, with --lengths, that work at other sequence
lengths (benchmarks/bench.py --jax runs this and sets the figures beside TensorFlow's).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sine_wave as sw  # noqa: E402  (NumPy only: gen_seq, gen_inputs and the settings)


def init(key, hidden, width):
    k1, k2, k3 = jax.random.split(key, 3)
    w_scale, b_scale = np.sqrt(3.0 / hidden), np.sqrt(3.0)
    return {"M": jax.random.uniform(k1, (width + hidden, 4 * hidden), minval=-0.1, maxval=0.1),
            "bias": jnp.zeros(4 * hidden),
            "W": jax.random.uniform(k2, (hidden, 1), minval=-w_scale, maxval=w_scale),
            "b": jax.random.uniform(k3, (1,), minval=-b_scale, maxval=b_scale)}


def forward(params, seq_input):
    hidden = params["W"].shape[0]
    width = seq_input.shape[1]
    x_proj = seq_input @ params["M"][:width] + params["bias"]  # the input half, hoisted out of the loop

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
    grads = jax.tree_util.tree_map(lambda g: g * sw.clip_norm / jnp.maximum(norm, sw.clip_norm), grads)
    t = t + 1
    m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
    v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
    step = lr * jnp.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
    params = jax.tree_util.tree_map(lambda p, m, v: p - step * m / (jnp.sqrt(v) + sw.adam_epsilon), params, m, v)
    return params, m, v, t, err


def compiled_epochs(params, m, v, t, seq_input, seq_target, n):
    """n epochs in one jit call (a fori_loop over train_step): the compiled work alone, per epoch."""
    @jax.jit
    def many(params, m, v, t):
        def body(k, carry):
            *state, err = train_step(*carry[:4], jnp.float32(sw.learning_rate(0)), seq_input, seq_target)
            return (*state, err)
        return jax.lax.fori_loop(0, n, body, (params, m, v, t, jnp.float32(0)))

    many(params, m, v, t)[-1].block_until_ready()
    times = []
    for _ in range(7):
        started = time.perf_counter()
        float(many(params, m, v, t)[-1])
        times.append((time.perf_counter() - started) / n)
    return statistics.median(times)


def fresh_state(hidden, width):
    params = init(jax.random.PRNGKey(sw.seed), hidden, width)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return params, zeros, zeros, jnp.zeros((), jnp.float32)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--lengths", type=int, nargs="*", default=[],
                   help="also time the compiled work at these sequence lengths (the post's is 628)")
    args = p.parse_args(argv)
    x, y = sw.gen_seq()
    n_steps = len(x) // 2
    seq_input, seq_target = (jnp.asarray(a, jnp.float32) for a in sw.gen_inputs(y, n_steps, 0))
    params, m, v, t = fresh_state(sw.num_hidden, sw.seq_width)
    times, errors = [], []
    for i in range(args.epochs):
        started = time.perf_counter()
        params, m, v, t, err = train_step(params, m, v, t, jnp.float32(sw.learning_rate(i)), seq_input, seq_target)
        errors.append(float(err))
        times.append(time.perf_counter() - started)
    print(f"JAX {jax.__version__}: first epoch {1000 * times[0]:.0f} ms, steady epoch "
          f"{1000 * statistics.median(times[1:]):.2f} ms (median of {len(times) - 1}); "
          f"error {errors[0]:.3f} -> {errors[-1]:.3f}")
    state = fresh_state(sw.num_hidden, sw.seq_width)
    print(f"compiled work alone: {1000 * compiled_epochs(*state, seq_input, seq_target, 50):.3f} ms per epoch")
    for length in args.lengths:
        reps = -(-length // n_steps)  # the training half repeated: timing does not depend on the values
        long_input, long_target = (jnp.tile(a, (reps, 1))[:length] for a in (seq_input, seq_target))
        per_epoch = compiled_epochs(*state, long_input, long_target, 20)
        print(f"length {length}: {1000 * per_epoch:.3f} ms per epoch, {1e6 * per_epoch / length:.2f} µs per time step")


if __name__ == "__main__":
    main()
