"""Candidate ways to run the training epochs, each in its own process, alternating, medians.

For each: the first call (trace + XLA compile + run), a steady epoch (median), the last logged
error, and whether all 100 errors equal the post's loop (`sync`) bit for bit.

  sync        the post's loop, each step waited for
  ahead       the same loop, one epoch ahead in async eager mode (sine_wave.one_ahead: kept)
  lr-arg      the rate as a tensor argument, assigned inside the step, called as a concrete function
  per-call    25 epochs per compiled call (a tf.while_loop over the step), rates as an argument

Each runs twice on TensorFlow >= 2.19: as sine_wave.py compiles it (XLA_COPY_FLAG on), and with
XLA's default copy insertion (the flag off: how sine_wave.py ran before issue 11).

    python benchmarks/step_variants.py              # 3 rounds, about two minutes
    python benchmarks/step_variants.py --rounds 5
"""

import argparse
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sine_wave as sw  # noqa: E402  (NumPy only until a variant runs)

VARIANTS = ("sync", "ahead", "lr-arg", "per-call")
PER_CALL = 25


def one(variant, epochs=100):
    import numpy as np

    tf = sw.import_tensorflow(xla=True)
    x, y = sw.gen_seq()
    feed = sw.feed_dict(*sw.gen_inputs(y, len(x) // 2, 0))
    network = sw.build_network()
    optimizer = sw.build_optimizer(network)
    script_step = sw.make_train_step(network, optimizer).python_function  # to trace into the variants' own

    def step_body(rate):
        optimizer.learning_rate.assign(rate)
        return script_step(feed.seq_input, feed.seq_target)[0]

    errors, times = [], []
    started = time.perf_counter()
    if variant in ("sync", "ahead"):
        epochs_run = sw.train(sw.make_train_step(network, optimizer), optimizer, feed, epochs)
        for _, err, _ in (sw.one_ahead(epochs_run) if variant == "ahead" else epochs_run):
            errors.append(float(err))
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
    elif variant == "lr-arg":
        step = tf.function(step_body, jit_compile=True, autograph=False)
        step = step.get_concrete_function(tf.TensorSpec([], tf.float32))
        for i in range(epochs):
            errors.append(float(step(tf.constant(sw.learning_rate(i), tf.float32))))
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
    else:
        @tf.function(jit_compile=True, autograph=False)
        def many(rates, n):
            def body(k, errs):
                return k + 1, tf.tensor_scatter_nd_update(errs, [[k]], [step_body(rates[k])])
            return tf.while_loop(lambda k, errs: k < n, body, (tf.constant(0), tf.zeros([PER_CALL])))[1]

        sizes = [1] + [PER_CALL] * ((epochs - 1) // PER_CALL) + [(epochs - 1) % PER_CALL]
        i = 0
        for size in filter(None, sizes):
            rates = np.zeros(PER_CALL, np.float32)
            rates[:size] = [sw.learning_rate(j) for j in range(i, i + size)]
            errs = many(tf.constant(rates), tf.constant(size)).numpy()[:size]
            errors += [float(e) for e in errs]
            times += [(time.perf_counter() - started) / size] * size
            started = time.perf_counter()
            i += size
    print(json.dumps({"first": times[0], "steady": statistics.median(times[1:]), "errors": errors}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--one", choices=VARIANTS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        return one(args.one)
    known = sw.knows_xla_copy_flag(importlib.metadata.version("tensorflow"))
    copy_insertions = ["as sine_wave.py sets it", "XLA's default"] if known else ["XLA's default"]
    runs = {(v, c): [] for c in copy_insertions for v in VARIANTS}
    for _ in range(args.rounds):
        for v, c in runs:  # alternate, so noise falls on all alike
            flags = os.environ.get("XLA_FLAGS", "")
            if c == "XLA's default" and known:
                flags += " " + sw.XLA_COPY_FLAG.replace("=true", "=false")
            out = subprocess.run([sys.executable, __file__, "--one", v], check=True, capture_output=True, text=True,
                                 env=dict(os.environ, XLA_FLAGS=flags.strip()))
            runs[v, c].append(json.loads(out.stdout.strip().splitlines()[-1]))
    reference = runs["sync", copy_insertions[0]][0]["errors"]
    print(f"{args.rounds} rounds, each variant in its own process; medians\n")
    print("| variant | XLA copy insertion | first call (s) | steady epoch (ms) | epoch 99 | all 100 errors equal "
          "the first row's |")
    print("|---|---|---:|---:|---:|---|")
    for (v, c), rs in runs.items():
        same = all(r["errors"] == reference for r in rs)
        print(f"| {v} | {c} | {statistics.median(r['first'] for r in rs):.2f} | "
              f"{1000 * statistics.median(r['steady'] for r in rs):.2f} | {rs[0]['errors'][-1]:.5f} | {same} |")


if __name__ == "__main__":
    main()
