"""The evidence behind every speed and memory claim about sine_wave.py (docs/performance.md).

Prints four Markdown tables:
  1. per epoch and peak memory against --hidden: each size trains in a process of its own,
     the script's own step, each epoch waited for (as JAX below) and as sine_wave.py runs it
     (epochs overlapped); with --jax PYTHON, benchmarks/jax_reference.py under that interpreter, the two alternating;
  2. XLA's copy insertion with and without region analysis (sine_wave.XLA_COPY_FLAG), per size;
  3. the step with XLA against the plain tf.function of --no-xla;
  4. the whole command against `python -c "import tensorflow"`, alternating, as separate processes.

    python benchmarks/bench.py                       # about 4 minutes on 2 cores
    python benchmarks/bench.py --quick               # one round, fewer epochs: a smoke test
    python benchmarks/bench.py --jax /path/to/venv-with-jax/bin/python --hidden 10 64 256 1024

Timings on a shared machine are noisy: every figure is a median, and each ratio is taken between
figures measured in the same run.
"""

import argparse
import importlib.metadata
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sine_wave as sw  # noqa: E402


def child(hidden, epochs, xla):
    """Train `epochs` at `hidden` units in this process; print one JSON line of timings and peak memory."""
    tf = sw.load_tensorflow(xla)
    x, y = sw.gen_seq()
    feed = tuple(tf.constant(a, tf.float32) for a in sw.gen_inputs(y, len(x) // 2, 0))
    net = sw.Network(hidden)
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.0, epsilon=sw.adam_epsilon)
    train_op = sw.make_train_op(net, optimizer, xla)
    started = time.perf_counter()
    float(train_op(*feed)[0])
    first, waited = time.perf_counter() - started, []
    for i in range(epochs):  # the post's loop, each step waited for
        started = time.perf_counter()
        optimizer.learning_rate.assign(sw.learning_rate(i))
        float(train_op(*feed)[0])
        waited.append(time.perf_counter() - started)
    args = argparse.Namespace(no_xla=not xla, animate=False, epochs=epochs)
    out = argparse.Namespace(seconds=[], errors=[], frames=[], training=False)
    sw.say = lambda line: None
    with sw.EpochLog(args, out) as log:  # as sine_wave.run() runs it: step i + 1 queued before epoch i is read
        for i in range(epochs):
            optimizer.learning_rate.assign(sw.learning_rate(i))
            err, outs = train_op(*feed)
            log("Epoch %d: %1.5f", i, err, outs)
    print(json.dumps({"first_ms": 1000 * first, "epoch_ms": 1000 * statistics.median(waited),
                      "overlapped_ms": 1000 * statistics.median(out.seconds[1:]),
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(hidden, epochs, xla=True, flags=None, jax=None):
    """One child process's {first_ms, epoch_ms, overlapped_ms, peak_mb}."""
    env = {**os.environ, "XLA_FLAGS": flags} if flags else os.environ
    cmd = ([jax, str(ROOT / "benchmarks" / "jax_reference.py"), "--hidden", str(hidden), "--epochs", str(epochs + 1)]
           if jax else [sys.executable, __file__, "--child", str(hidden), str(epochs)] + ([] if xla else ["--no-xla"]))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rounds_of(rounds, **forms):
    """Each form's child once per round, the forms alternating; medians of each figure and of each ratio to the first."""
    runs = {name: [] for name in forms}
    for _ in range(rounds):
        for name, kwargs in forms.items():
            runs[name].append(measure(**kwargs))
    first = next(iter(runs.values()))
    result = {}
    for name, rs in runs.items():
        result[name] = {k: statistics.median(r[k] for r in rs) for k in rs[0] if isinstance(rs[0][k], float)}
        for k in ("epoch_ms", "overlapped_ms"):
            result[name]["ratio_" + k] = statistics.median(r[k] / f[k] for r, f in zip(rs, first))
    return result


def epochs_for(hidden, quick):
    """200 epochs up to 64 units, 50 at 256, 12 at 1024 (an eighth with --quick)."""
    return max(3, min(200, 12800 // hidden) // (8 if quick else 1))


def table(title, header, rows):
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def whole_command(repeats):
    commands = {"`python -c \"import tensorflow\"`": [sys.executable, "-c", "import tensorflow"],
                "`python sine_wave.py --no-show`": [sys.executable, str(ROOT / "sine_wave.py"), "--no-show", "--out",
                                                    str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-output")]}
    times = {name: [] for name in commands}
    for _ in range(repeats):  # alternating, so both see the same machine
        for name, cmd in commands.items():
            started = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times[name].append(time.perf_counter() - started)
    base = statistics.median(next(iter(times.values())))
    return [[name, f"{statistics.median(t):.2f}", f"{statistics.median(t) / base:.2f}"] for name, t in times.items()]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, nargs="+", default=[10, 64, 256], help="sizes (default: 10 64 256)")
    p.add_argument("--jax", metavar="PYTHON", help="an interpreter with JAX installed, for the JAX column")
    p.add_argument("--quick", action="store_true", help="fewer epochs, one process per figure")
    p.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    p.add_argument("--no-xla", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(*args.child, xla=not args.no_xla)
    rounds = 1 if args.quick else 5
    tf_version = [importlib.metadata.version(name) for name in ("tensorflow", "keras")]
    print(f"sine_wave.py benchmark: Python {sys.version.split()[0]}, TensorFlow {tf_version[0]}, Keras {tf_version[1]}, "
          f"{os.cpu_count()} cores")
    rows, copies, first_size, new_flag = [], [], None, tuple(map(int, tf_version[0].split(".")[:2])) >= (2, 19)
    for hidden in args.hidden:
        epochs = epochs_for(hidden, args.quick)
        forms = {"ours": dict(hidden=hidden, epochs=epochs)}
        if args.jax:
            forms["jax"] = dict(hidden=hidden, epochs=epochs, jax=args.jax)
        if new_flag:  # XLA of TF 2.19 and later knows the flag (sine_wave.XLA_COPY_FLAG)
            forms["default"] = dict(hidden=hidden, epochs=epochs, flags="--xla_cpu_copy_insertion_use_region_analysis=false")
        got = rounds_of(rounds, **forms)
        ours = got["ours"]
        first_size = first_size if rows else ours
        row = [hidden, epochs, f"{ours['first_ms'] / 1000:.2f}", f"{ours['epoch_ms']:.2f}",
               f"{ours['overlapped_ms']:.2f}", f"{ours['peak_mb']:.0f}"]
        if args.jax:
            jax = got["jax"]
            row += [f"{jax['epoch_ms']:.2f}", f"{jax['overlapped_ms']:.2f}", f"{jax['peak_mb']:.0f}",
                    f"{1 / jax['ratio_epoch_ms']:.2f}", f"{1 / jax['ratio_overlapped_ms']:.2f}"]
        rows.append(row)
        if new_flag:
            default = got["default"]
            copies.append([hidden, f"{ours['epoch_ms']:.2f}", f"{default['epoch_ms']:.2f}",
                           f"{default['ratio_epoch_ms']:.2f}"])
    header = ["--hidden", "epochs", "first epoch s", "ms per epoch, each waited for",
              "ms per epoch, overlapped (as the script runs)", "peak MB"]
    table("Per epoch and peak memory against --hidden (one process per figure, medians)",
          header + (["JAX ms, waited", "JAX ms, overlapped", "JAX peak MB", "× JAX, waited (median of the rounds' "
                     "ratios)", "× JAX, overlapped"] if args.jax else []), rows)
    if copies:
        table("XLA's copy insertion: with region analysis (the script's setting) and XLA's default",
              ["--hidden", "ms per epoch, region analysis", "ms per epoch, XLA's default", "× slower by default"], copies)
    small, xla = args.hidden[0], first_size
    plain = rounds_of(rounds, plain=dict(hidden=small, epochs=20, xla=False))["plain"]  # 20 epochs: it is slow
    table(f"The step with XLA and as a plain tf.function (`--no-xla`), --hidden {small}",
          ["form", "ms per epoch, each waited for", "× the XLA step"],
          [["XLA (`jit_compile=True`)", f"{xla['epoch_ms']:.2f}", "1.00"],
           ["`--no-xla`", f"{plain['epoch_ms']:.2f}", f"{plain['epoch_ms'] / xla['epoch_ms']:.1f}"]])
    table("The whole command, alternating as separate processes (medians)", ["command", "seconds", "× import tensorflow"],
          whole_command(1 if args.quick else 5))


if __name__ == "__main__":
    main()
