"""Where the time of `python sine_wave.py` goes.

Prints six Markdown tables, seven with --jax:
  1. the phases of one run, timed on sine_wave.py's own functions;
  2. one steady-state training epoch in three forms, side by side in this process:
     the script's step (XLA), the same step without XLA, and Keras' own
     `compile` + `fit` on the same model;
  3. where a steady epoch goes: the compiled step itself, the call into it, the Python loop,
     and the epoch as sine_wave.py runs it (one ahead, so the last two overlap the first);
  4. the arithmetic of one epoch and the rate it implies, against what a large
     matrix product reaches on this machine;
  5. the whole command against `python -c "import tensorflow"`, each run as
     separate processes, alternating, medians and their ratio;
  6. the compiled work against the sequence length (what grows faster than the length);
  7. with --jax PYTHON: benchmarks/jax_reference.py run under that interpreter, its
     figures set beside ours (JAX is not a dependency: install it in another environment).

    python benchmarks/bench.py           # about 2 minutes on 2 cores
    python benchmarks/bench.py --quick   # about a minute, fewer repetitions
    python benchmarks/bench.py --jax /path/to/venv-with-jax/bin/python

Timings on a shared machine are noisy: every figure is a median, and ratios
are taken between figures measured in the same run.
"""

import argparse
import importlib.metadata
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import sine_wave as sw  # noqa: E402


def timed(fn, *args):
    t = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t, result


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def ms(seconds):
    return f"{1000 * seconds:.1f}"


def table(title, header, rows):
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


# ---------------------------------------------------------------------------
# 1. Phases of one run.
# ---------------------------------------------------------------------------
def phases(epochs):
    rows = []
    t_import, tf = timed(sw.import_tensorflow)
    rows.append(("import TensorFlow (and Keras)", ms(t_import)))
    sw.seed_everything(sw.seed)

    x, y = sw.gen_seq()
    n_steps = len(x) // 2
    train_input, train_target = sw.gen_inputs(y, n_steps, 0)
    test_input, test_target = sw.gen_inputs(y, n_steps, n_steps)
    train_in, train_tg, test_in = (tf.constant(a, tf.float32) for a in (train_input, train_target, test_input))

    def build():
        network = sw.build_network()
        optimizer = sw.build_optimizer(network)
        return network, optimizer, sw.make_checkpoint(network, optimizer, {"lag": sw.lag})

    t_build, (network, optimizer, ckpt) = timed(build)
    rows.append(("build the network, optimiser, checkpoint", ms(t_build)))

    predict = sw.make_predict(network)
    t_pred1, _ = timed(lambda: predict(train_in).numpy())
    rows.append(("first prediction (trace + XLA compile + run)", ms(t_pred1)))

    step = sw.make_train_step(network, optimizer)
    t_step1, _ = timed(lambda: float(step(train_in, train_tg)[0]))
    rows.append(("first training step (trace + XLA compile + run)", ms(t_step1)))

    t_epoch = median_time(lambda: float(step(train_in, train_tg)[0]), epochs)
    rows.append((f"steady-state epoch (median of {epochs})", ms(t_epoch)))

    t_pred = median_time(lambda: (predict(train_in).numpy(), predict(test_in).numpy()), 10)
    rows.append(("predict both halves (median of 10)", ms(t_pred)))

    with tempfile.TemporaryDirectory() as scratch:
        t_ckpt = median_time(lambda: ckpt.write(os.path.join(scratch, "ckpt")), 5)
        rows.append(("write the checkpoint (median of 5)", ms(t_ckpt)))

        outs = predict(train_in).numpy()
        figures = [
            (sw.plot_sequence, (x, y), (8, 6)),
            (sw.plot_untrained, (x[:n_steps], train_target, outs), sw.WIDE),
            (sw.plot_training_error, (list(np.linspace(50, 4, epochs)),), (8, 6)),
            (sw.plot_training_complete, (x[:n_steps], train_target, outs, x[n_steps:2 * n_steps],
                                         test_target, outs), sw.WIDE),
        ]
        t_figs, _ = timed(lambda: [sw._draw(None, plot, data, os.path.join(scratch, f"{i}.png"), size)
                                   for i, (plot, data, size) in enumerate(figures)])
        rows.append(("draw and save the four figures", ms(t_figs)))

    return ("Phases of one run (sine_wave.py's own functions)", ["phase", "ms"], rows), \
        (tf, network, optimizer, train_in, train_tg)


# ---------------------------------------------------------------------------
# 2. One epoch, three ways.
# ---------------------------------------------------------------------------
def keras_fit_epoch(tf, train_input, train_target, epochs):
    """The model as a Keras user would usually write it: Sequential, compile, fit."""
    import keras

    uniform = keras.initializers.RandomUniform(-sw.init_scale, sw.init_scale)
    model = keras.Sequential([
        keras.Input((None, sw.seq_width)),
        keras.layers.LSTM(sw.num_hidden, return_sequences=True, kernel_initializer=uniform,
                          recurrent_initializer=uniform),
        keras.layers.Dense(1),
    ])

    def post_error(target, output):
        return tf.sqrt(tf.reduce_sum(tf.square(output - target)))

    model.compile(optimizer=keras.optimizers.Adam(1e-2, epsilon=sw.adam_epsilon, global_clipnorm=sw.clip_norm),
                  loss=post_error)

    class EpochTimes(keras.callbacks.Callback):
        times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.t)

    cb = EpochTimes()
    model.fit(train_input[None], train_target[None], epochs=epochs + 1, batch_size=1, verbose=0,
              shuffle=False, callbacks=[cb])
    return statistics.median(cb.times[1:]), model.jit_compile


def three_forms(tf, network, optimizer, train_in, train_tg, epochs):
    xla_step = sw.make_train_step(network, optimizer, jit_compile=True)
    plain_step = sw.make_train_step(network, optimizer, jit_compile=False)
    for step in (xla_step, plain_step):
        float(step(train_in, train_tg)[0])  # trace and compile outside the timing
    # Alternate the two so machine noise falls on both alike.
    xla, plain = [], []
    for _ in range(epochs):
        xla.append(timed(lambda: float(xla_step(train_in, train_tg)[0]))[0])
        plain.append(timed(lambda: float(plain_step(train_in, train_tg)[0]))[0])
    t_xla, t_plain = statistics.median(xla), statistics.median(plain)
    t_fit, fit_jit = keras_fit_epoch(tf, train_in.numpy(), train_tg.numpy(), max(5, epochs // 4))
    rows = [
        ("sine_wave.py's step, XLA (`jit_compile=True`)", ms(t_xla), "1.0"),
        ("the same step, plain `tf.function` (`--no-xla`)", ms(t_plain), f"{t_plain / t_xla:.1f}"),
        (f"Keras `Sequential` + `compile` + `fit` (jit_compile={fit_jit})", ms(t_fit), f"{t_fit / t_xla:.1f}"),
    ]
    return ("One steady-state epoch, three ways (same process, medians)",
            ["form", "ms per epoch", "× the XLA step"], rows), t_xla


# ---------------------------------------------------------------------------
# 2b. Where a steady epoch goes.
# ---------------------------------------------------------------------------
def compiled_epochs(tf, network, optimizer, seq_input, seq_target):
    """A function running n training steps in one XLA call: the compiled work alone, no call per step."""
    step = sw.make_train_step(network, optimizer).python_function  # the script's step, traced into this loop

    @tf.function(jit_compile=True, autograph=False)
    def many(n):
        def body(i, err):
            return i + 1, step(seq_input, seq_target)[0]
        return tf.while_loop(lambda i, err: i < n, body, (tf.constant(0), tf.constant(0.0)))[1]

    return many


def epoch_split(tf, network, optimizer, train_in, train_tg, epochs):
    """A steady epoch of the post's loop, split into the compiled step's own time, the call into it
    (dispatch, variable handles, the float(err) sync) and the per-epoch Python work; then the same
    loop as sine_wave.py runs it, one epoch ahead (sw.one_ahead), where the last two overlap the first."""
    step = sw.make_train_step(network, optimizer)
    feed = sw.Feed(train_in, train_tg)
    lr = sw.learning_rate(30)
    many = compiled_epochs(tf, network, optimizer, train_in, train_tg)

    def epoch():  # the post's loop, each step waited for: what train() and the log line did before
        for i, err, _ in sw.train(step, optimizer, feed, 1, lambda i: lr):
            print("Epoch %d: %1.5f" % (i, float(err)), file=devnull)

    def ahead(n):  # median time between epochs' results, as Results.watch sees them
        times, started = [], time.perf_counter()
        for i, err, _ in sw.one_ahead(sw.train(step, optimizer, feed, n, lambda i: lr)):
            print("Epoch %d: %1.5f" % (i, float(err)), file=devnull)
            now = time.perf_counter()
            times.append(now - started)
            started = now
        return statistics.median(times[1:])

    n = 50
    with open(os.devnull, "w") as devnull:
        epoch()
        float(many(tf.constant(n)))
        t_epoch = median_time(epoch, epochs)
        t_call = median_time(lambda: float(step(train_in, train_tg)[0]), epochs)
        t_assign = median_time(lambda: optimizer.learning_rate.assign(lr), epochs)
        t_compiled = median_time(lambda: float(many(tf.constant(n))), max(3, epochs // 10)) / n
        t_ahead = statistics.median(ahead(epochs) for _ in range(3))
    rows = [
        (f"the compiled step's own work ({n} steps in one XLA call, per step)", ms3(t_compiled), pct(t_compiled, t_epoch)),
        ("calling it: dispatch, variables, `float(err)` (one call + sync, less the above)", ms3(t_call - t_compiled),
         pct(t_call - t_compiled, t_epoch)),
        ("`optimizer.learning_rate.assign(lr)`", ms3(t_assign), pct(t_assign, t_epoch)),
        ("the rest of the Python loop and the log line", ms3(t_epoch - t_call - t_assign),
         pct(t_epoch - t_call - t_assign, t_epoch)),
        ("a whole epoch, each step waited for (the post's loop as it stands)", ms3(t_epoch), "100 %"),
        ("a whole epoch, one ahead (`one_ahead`: how sine_wave.py runs it)", ms3(t_ahead), pct(t_ahead, t_epoch)),
    ]
    return ("Where a steady epoch goes (medians)", ["part", "ms", "share"], rows), (t_epoch, t_ahead, t_compiled)


def length_times(tf, train_input, train_target, lengths):
    """{L: seconds of compiled work per epoch} for sequences of length L (the training half repeated:
    timing does not depend on the values)."""
    times = {}
    for length in lengths:
        reps = -(-length // len(train_input))
        seq_input, seq_target = (tf.constant(np.tile(a, (reps, 1))[:length], tf.float32)
                                 for a in (train_input, train_target))
        network = sw.build_network()
        optimizer = sw.build_optimizer(network)
        optimizer.learning_rate.assign(sw.learning_rate(0))
        many = compiled_epochs(tf, network, optimizer, seq_input, seq_target)
        n = 20
        float(many(tf.constant(n)))
        times[length] = median_time(lambda: float(many(tf.constant(n))), 5) / n
    return times


def fit_row(label, times, width):
    """Least squares t = a L + b L^2: the L^2 part is work redone over the whole sequence at every step."""
    lengths = list(times)
    a, b = np.linalg.lstsq(np.array([[L, L * L] for L in lengths], float), np.array(list(times.values())),
                           rcond=None)[0]
    return [f"{label}: t = a·L + b·L², a = {1e6 * a:.2f} µs per step; at L = 628 the L² term is "
            f"{1000 * b * 628 ** 2:.3f} ms of {1000 * (a * 628 + b * 628 ** 2):.3f} ms"] + [""] * (width - 1)


def lengths_table(times, default_copies, jax_figures):
    """The compiled work per epoch at other sequence lengths: linear in the length means a fixed cost
    per time step; growing per step means work that grows with the length inside the loop."""
    header = ["sequence length", "ms per epoch", "µs per time step"]
    if default_copies:
        header += ["µs per step, XLA's default copy insertion"]
    if jax_figures:
        header += ["JAX µs per time step", "× JAX"]
    rows = []
    for length, t in times.items():
        row = [str(length) + (" (the post's)" if length == 628 else ""), ms3(t), f"{1e6 * t / length:.2f}"]
        if default_copies:
            row.append(f"{1e6 * default_copies[length] / length:.2f}")
        if jax_figures:
            jax_t = jax_figures["lengths"].get(length)
            row += [f"{1e6 * jax_t / length:.2f}", f"{t / jax_t:.2f}"] if jax_t else ["", ""]
        rows.append(row)
    rows.append(fit_row("fit", times, len(header)))
    if default_copies:
        rows.append(fit_row("fit, XLA's default copy insertion", default_copies, len(header)))
    return "The compiled work against the sequence length (XLA, medians)", header, rows


NO_REGION_ANALYSIS = sw.XLA_COPY_FLAG.replace("=true", "=false")


def default_copy_insertion(lengths, epochs):
    """The step's figures again in a child process whose XLA keeps its default copy insertion
    (sine_wave.XLA_COPY_FLAG off): what they were before sine_wave.py set the flag."""
    env = dict(os.environ, XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} {NO_REGION_ANALYSIS}".strip())
    out = subprocess.run([sys.executable, __file__, "--child", str(epochs), *map(str, lengths)], env=env,
                         check=True, capture_output=True, text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    figures["lengths"] = {int(L): t for L, t in figures["lengths"].items()}
    return figures


def child(epochs, lengths):
    tf = sw.import_tensorflow(xla=True)
    x, y = sw.gen_seq()
    train_input, train_target = sw.gen_inputs(y, len(x) // 2, 0)
    train_in, train_tg = (tf.constant(a, tf.float32) for a in (train_input, train_target))
    network = sw.build_network()
    _, (t_epoch, t_ahead, t_compiled) = epoch_split(tf, network, sw.build_optimizer(network), train_in, train_tg,
                                                    epochs)
    print(json.dumps({"epoch": t_epoch, "ahead": t_ahead, "compiled": t_compiled,
                      "lengths": length_times(tf, train_input, train_target, lengths)}))


def run_jax(python, lengths):
    """benchmarks/jax_reference.py under another interpreter (JAX is not a dependency); its figures in seconds."""
    out = subprocess.run([python, str(ROOT / "benchmarks" / "jax_reference.py"), "--epochs", "300",
                          "--lengths", *map(str, lengths)], check=True, capture_output=True, text=True).stdout
    figures = {"version": re.search(r"JAX (\S+):", out).group(1),
               "epoch": float(re.search(r"steady epoch ([\d.]+) ms", out).group(1)) / 1000,
               "compiled": float(re.search(r"compiled work alone: ([\d.]+) ms", out).group(1)) / 1000,
               "lengths": {int(L): float(t) / 1000 for L, t in re.findall(r"length (\d+): ([\d.]+) ms", out)}}
    return figures


def against_jax(j, t_ahead, t_compiled, default_copies):
    rows = [("a steady epoch as the script runs it (JAX: a `jax.jit` call + `float(err)`)", t_ahead, j["epoch"]),
            ("the compiled work alone (many epochs in one call, per epoch)", t_compiled, j["compiled"])]
    if default_copies:
        d = default_copies
        rows[1:1] = [("the same, XLA's default copy insertion", d["ahead"], j["epoch"]),
                     ("the same, each step waited for too (sine_wave.py before issue 11)", d["epoch"], j["epoch"])]
        rows.append(("the same, XLA's default copy insertion", d["compiled"], j["compiled"]))
    return (f"Against JAX {j['version']} (benchmarks/jax_reference.py, run by this benchmark; medians)",
            ["what", "TensorFlow ms", "JAX ms", "× JAX"], [(w, ms3(t), ms3(jt), f"{t / jt:.2f}") for w, t, jt in rows])


def ms3(seconds):
    return f"{1000 * seconds:.3f}"


def pct(part, whole):
    return f"{100 * part / whole:.0f} %"


# ---------------------------------------------------------------------------
# 3. The whole command.
# ---------------------------------------------------------------------------
def whole_command(repeats):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "python -c \"import tensorflow\"": [sys.executable, "-c", "import tensorflow"],
            "python sine_wave.py --no-show": [sys.executable, str(ROOT / "sine_wave.py"), "--no-show", "--out", out],
        }
        times = {name: [] for name in commands}
        for _ in range(repeats):
            for name, cmd in commands.items():  # alternate, so noise falls on both
                t = time.perf_counter()
                subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[name].append(time.perf_counter() - t)
    base, run = (statistics.median(times[name]) for name in commands)
    rows = [(f"`{name}`", f"{med:.2f}", f"{med / base:.2f}") for name, med in
            zip(commands, (base, run))]
    return (f"The whole command, {repeats} runs each as separate processes (medians)",
            ["command", "seconds", "× import tensorflow"], rows)


# ---------------------------------------------------------------------------
# 4. The arithmetic of one epoch.
# ---------------------------------------------------------------------------
def arithmetic(tf, t_epoch):
    n_steps, width, hidden = 628, sw.seq_width, sw.num_hidden
    lstm = n_steps * (width + hidden) * 4 * hidden  # the gates' matrix product, each step
    readout = n_steps * hidden                       # h @ W
    forward = lstm + readout
    total = 3 * forward  # backward: about twice forward (gradients for inputs and weights)
    a = tf.random.uniform((1024, 1024))
    matmul = tf.function(lambda m: tf.matmul(m, m), jit_compile=True)
    matmul(a).numpy()
    t_mm = median_time(lambda: matmul(a).numpy(), 20)
    peak = 1024 ** 3 / t_mm
    rows = [
        ("multiply-adds, forward (628 steps × 20 × 40, + read-out)", f"{forward:,}"),
        ("multiply-adds, forward + backward (≈ 3 × forward)", f"{total:,}"),
        ("rate in a steady-state XLA epoch", f"{total / t_epoch / 1e9:.2f} G multiply-adds/s"),
        ("rate of a 1024 × 1024 matrix product here", f"{peak / 1e9:.1f} G multiply-adds/s"),
        ("time per time step (forward + backward)", f"{1e6 * t_epoch / n_steps:.1f} µs"),
        ("one epoch uses of what the machine can do", f"{100 * (total / t_epoch) / peak:.2f} %"),
    ]
    return "The arithmetic of one epoch", ["", "value"], rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions: under a minute")
    p.add_argument("--jax", metavar="PYTHON", help="an interpreter with JAX installed: set its figures beside ours")
    p.add_argument("--child", nargs="+", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child[0], args.child[1:])
    epochs, repeats = (20, 2) if args.quick else (100, 5)
    lengths = (314, 628, 1256) if args.quick else (157, 314, 628, 1256, 2512)
    print(f"sine_wave.py benchmark: Python {sys.version.split()[0]}, {os.cpu_count()} cores"
          + (", --quick" if args.quick else ""))
    # The whole command and the other processes first, while this one has not loaded TensorFlow:
    # its idle thread pools (and Keras fit's) would otherwise share the cores.
    whole = whole_command(repeats)
    jax_figures = run_jax(args.jax, lengths) if args.jax else None
    known = sw.knows_xla_copy_flag(importlib.metadata.version("tensorflow"))
    default_copies = default_copy_insertion(lengths, epochs) if known else None
    phase_table, (tf, network, optimizer, train_in, train_tg) = phases(epochs)
    forms_table, t_xla = three_forms(tf, network, optimizer, train_in, train_tg, epochs)
    split_table, (t_epoch, t_ahead, t_compiled) = epoch_split(tf, network, optimizer, train_in, train_tg, epochs)
    times = length_times(tf, train_in.numpy(), train_tg.numpy(), lengths)
    print(f"TensorFlow {tf.__version__}, Keras {__import__('keras').__version__}")
    sections = [phase_table, forms_table, split_table, arithmetic(tf, t_xla), whole,
                lengths_table(times, default_copies and default_copies["lengths"], jax_figures)]
    if jax_figures:
        sections.append(against_jax(jax_figures, t_ahead, t_compiled, default_copies))
    for section in sections:
        table(*section)


if __name__ == "__main__":
    main()
