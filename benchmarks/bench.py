"""The evidence behind every speed and memory claim about sine_wave.py (docs/performance.md).

Prints six Markdown tables (--tables picks some):
  epochs  ms per epoch, first epoch and peak memory against --hidden. Each figure is one process
          running the script's own main() (--no-show --epochs N + 1), make_train_op and
          Output.save wrapped to note the time: an epoch is from one train_op call to the next
          (the last: to Output.save), so it holds the loop's lr.assign, the step, its log line
          (which waits for the step) and Output.epoch. The peak memory is read at Output.save.
          --against DIR: DIR/sine_wave.py, another checkout, measured the same way in the same
          rounds, and the ratio; --jax / --torch PYTHON: the reference models in
          benchmarks/jax_reference.py and torch_reference.py under that interpreter.
  paired  with --against: both versions' steps in one process, epochs alternating, each epoch's
          ratio to the other's next to it: the steadiest comparison on a shared machine. Each
          step is built as its version's run() builds it (345fde5 and before: Keras' Adam).
  copies  XLA's copy insertion with region analysis (sine_wave.XLA_COPY_FLAG) and XLA's default.
  no-xla  the step with XLA and as the plain tf.function of --no-xla, at the first --hidden, in
          its rounds (20 epochs: it is slow).
  runs    the whole command `python sine_wave.py --no-show` against `python -c "import tensorflow"`;
          --against DIR: DIR's script too, its compile cache (versions that have one) first empty,
          then filled by that run.
  phases  where a run's time goes: sine_wave.main() in a process of its own, its functions wrapped
          in timers (in that process only; its metrics.json is checked against the command's).

Every process runs with HOME and XDG_CACHE_HOME in a temporary folder, removed at the end; an
older version's compile cache there is emptied before each per-epoch process.
In each round every form runs once, the forms alternating; each figure is the median over the
rounds, each ratio the median of the rounds' own ratios.

    python benchmarks/bench.py                      # --hidden 10 64 256, 5 rounds
    python benchmarks/bench.py --quick              # a smoke test: 1 round, few epochs
    git worktree add /tmp/old COMMIT && python benchmarks/bench.py --against /tmp/old
"""

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("epochs", "paired", "copies", "no-xla", "runs", "phases")
DEFAULT_COPIES = "--xla_cpu_copy_insertion_use_region_analysis=false"  # XLA's own default
NO_XLA_EPOCHS = 20  # the plain tf.function's process: it is slow


def load_script(folder, name="sine_wave"):
    """`folder`/sine_wave.py, imported as the module `name`."""
    spec = importlib.util.spec_from_file_location(name, Path(folder) / "sine_wave.py")
    sw = importlib.util.module_from_spec(spec)
    sys.modules[name] = sw
    spec.loader.exec_module(sw)
    return sw


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- The children: each prints one JSON line last
def epochs_child(folder, hidden, epochs, out, xla):
    """sine_wave.main() of `folder`, `epochs` + 1 epochs, each train_op call's start noted."""
    sw = load_script(folder)
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(line_buffering=True)  # as the script's own start: each line at once
    starts, peaks = [], []
    make_train_op, save = sw.make_train_op, sw.Output.save

    def timed_make_train_op(*args, **kwargs):
        train_op = make_train_op(*args, **kwargs)

        def timed(*feed):
            starts.append(time.perf_counter())
            return train_op(*feed)

        return timed

    def timed_save(self, *args):  # the checkpoint, right after the last epoch
        starts.append(time.perf_counter())
        peaks.append(peak_mb())
        return save(self, *args)

    sw.make_train_op, sw.Output.save = timed_make_train_op, timed_save
    argv = ["--no-show", "--out", out, "--hidden", str(hidden), "--epochs", str(epochs + 1)]
    code = sw.main(argv + ([] if xla else ["--no-xla"]))
    if code:
        raise SystemExit(f"sine_wave.main() exited with status {code}")
    seconds = [b - a for a, b in zip(starts, starts[1:])]
    result = {"first_ms": 1000 * seconds[0], "epoch_ms": 1000 * statistics.median(seconds[1:])}
    print(json.dumps({**result, "peak_mb": peaks[0]}))


def train_step(sw, hidden):
    """A version's step as its run() builds it: its Network, optimizer and make_train_op."""
    tf = sw.load_tensorflow(True)
    x, y = sw.gen_seq()
    feed = tuple(tf.constant(a, tf.float32) for a in sw.gen_inputs(y, len(x) // 2, 0))
    net = sw.Network(hidden)
    if hasattr(sw, "adam_epsilon"):  # 345fde5 and before: Keras' Adam and its learning rate
        optimizer = tf.keras.optimizers.Adam(learning_rate=0.0, epsilon=sw.adam_epsilon)
        lr = optimizer.learning_rate
    else:  # the post's lr variable and tf.compat.v1's AdamOptimizer
        lr = tf.Variable(0.0, trainable=False, name="lr")
        optimizer = tf.compat.v1.train.AdamOptimizer(lr)
    return lr, sw.make_train_op(net, optimizer, True), feed


def paired_child(hidden, epochs, *folders):
    """Each folder's step in this one process, `epochs` + 1 epochs, the versions alternating
    epoch by epoch (which goes first alternating too), so both see the same machine."""
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(line_buffering=True)
    steps = [train_step(load_script(f, f"sine_wave_{n}"), hidden) for n, f in enumerate(folders)]
    seconds = [[] for _ in steps]
    for i in range(epochs + 1):
        new_lr = 5e-3 if i > 25 else 1e-2  # the post's chain, as it runs
        for n in range(len(steps)) if i % 2 else reversed(range(len(steps))):
            lr, train_op, feed = steps[n]
            started = time.perf_counter()
            lr.assign(new_lr)
            err, _ = train_op(*feed)
            print("Epoch %d: %1.5f" % (i, err))  # as the loop's: waits for the step
            seconds[n].append(time.perf_counter() - started)
    ratios = [a / b for a, b in zip(seconds[0][1:], seconds[1][1:])]  # epoch 0: the compiles
    epoch_ms = [1000 * statistics.median(s[1:]) for s in seconds]
    print(json.dumps({"epoch_ms": epoch_ms, "ratio": statistics.median(ratios)}))


class Phases:
    """Seconds per phase, each exclusive: a timed call inside another counts in its own only."""

    def __init__(self):
        self.seconds, self.calls, self.stack, self.traces = {}, {}, [], {}

    def add(self, name, seconds):
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + 1

    @contextlib.contextmanager
    def timing(self, name):
        started = time.perf_counter()
        self.stack.append(0.0)
        try:
            yield
        finally:
            total, inner = time.perf_counter() - started, self.stack.pop()
            self.add(name, total - inner)
            if self.stack:
                self.stack[-1] += total

    def wrap(self, name, fn):
        """`fn` timed; if it returns a context manager, from its start to its end."""

        def timed(*args, **kwargs):
            with self.timing(name):
                result = fn(*args, **kwargs)
            return self.context(name, result) if hasattr(result, "__exit__") else result

        return timed

    @contextlib.contextmanager
    def context(self, name, manager):
        self.calls[name] -= 1  # one call: made, then entered and left
        with self.timing(name), manager as value:
            yield value

    def compiled(self, fn, name):
        """A tf.function whose first call is split: tracing (get_concrete_function, whose traces
        the call reuses), then the call: XLA's compile and the run."""

        def call(*args):
            if name not in self.traces:
                with self.timing(name + ": tracing"):
                    fn.get_concrete_function(*args)
                self.traces[name] = (fn.experimental_get_tracing_count(), fn)
                with self.timing(name + ": compile and the run"):
                    return fn(*args)
            with self.timing(name + ", later calls"):
                return fn(*args)

        return call


class TracedTF:
    """sine_wave's `tf`, except that tf.function(net) (run()'s `output`) comes back timed."""

    def __init__(self, tf, phases, network):
        self._tf, self._phases, self._network = tf, phases, network

    def __getattr__(self, name):
        return getattr(self._tf, name)

    def function(self, fn=None, **kwargs):
        compiled = self._tf.function(fn, **kwargs)
        if isinstance(fn, self._network):
            return self._phases.compiled(compiled, "output")
        return compiled


def phases_child(out):
    """This checkout's sine_wave.main(["--no-show", "--out", out]), its functions timed."""
    sw = load_script(ROOT)
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(line_buffering=True)
    ph = Phases()
    quiet, load, make = sw.quiet_stderr, sw.load_tensorflow, sw.make_train_op

    @contextlib.contextmanager
    def quiet_stderr():  # its helper's start and stop; what runs inside is timed by the rest
        started = time.perf_counter()
        cm = quiet()
        cm.__enter__()
        ph.add("quiet_stderr", time.perf_counter() - started)
        try:
            yield
        finally:
            started = time.perf_counter()
            cm.__exit__(*sys.exc_info())
            ph.add("quiet_stderr", time.perf_counter() - started)

    def load_tensorflow(xla=False):
        if sw.tf is not None:
            return sw.tf
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # as load_tensorflow, before its import
        with ph.timing("import"):
            import tensorflow  # noqa: F401  (load_tensorflow's own import then finds it loaded)
        with ph.timing("load_tensorflow"):
            sw.tf = TracedTF(load(xla), ph, sw.Network)
        return sw.tf

    def make_train_op(*args, **kwargs):
        return ph.compiled(make(*args, **kwargs), "train_op")

    sw.quiet_stderr, sw.load_tensorflow, sw.make_train_op = (
        quiet_stderr,
        load_tensorflow,
        make_train_op,
    )
    for name in "figure", "save", "finish", "commit":
        setattr(sw.Output, name, ph.wrap(name, getattr(sw.Output, name)))
    sw.load_pyplot = ph.wrap("load_pyplot", sw.load_pyplot)
    main_began = time.time()
    started = time.perf_counter()
    code = sw.main(["--no-show", "--out", out])  # its log into the pipe, the JSON line after it
    main_s = time.perf_counter() - started
    if code:
        raise SystemExit(f"sine_wave.main() exited with status {code}")
    traces = {name: [n, fn.experimental_get_tracing_count()] for name, (n, fn) in ph.traces.items()}
    times = {"main_began": main_began, "main_ended": time.time(), "main_s": main_s}
    result = {**times, "seconds": ph.seconds, "calls": ph.calls, "traces": traces}
    print(json.dumps(result), flush=True)  # then Python's exit, as the script's sys.exit


# --- The parent
def run_child(cmd, env, cwd):
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        command = " ".join(map(str, cmd))
        raise SystemExit(f"{command} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def median_ratio(runs, a, b, key="epoch_ms"):
    """The median over the rounds of form a's figure over form b's, both of the same round."""
    return statistics.median(x[key] / y[key] for x, y in zip(runs[a], runs[b]))


class Bench:
    """The children's environment: HOME and XDG_CACHE_HOME in a temporary folder."""

    def __init__(self, root, against=None, warm=True):
        self.root, self.against = Path(root), against
        (self.root / "home").mkdir()
        self.cache = self.root / "cache"
        home = {"HOME": str(self.root / "home"), "XDG_CACHE_HOME": str(self.cache)}
        self.env = {**os.environ, **home}
        if warm:  # Matplotlib's font cache built, TensorFlow's files read once, untimed
            self.run([sys.executable, "-c", "import tensorflow, matplotlib.pyplot"])

    def run(self, cmd, env=None):
        return run_child(cmd, env or self.env, self.root)

    def empty_cache(self):  # an older version's compile cache (Matplotlib's stays)
        shutil.rmtree(self.cache / "sine_wave", ignore_errors=True)

    def measure(
        self, hidden, epochs, folder=ROOT, xla=True, flags=None, reference=None, paired=None
    ):
        """One child process's {first_ms, epoch_ms, peak_mb} (paired: {epoch_ms: [2], ratio})."""
        env = {**self.env, "XLA_FLAGS": flags} if flags else self.env
        if reference:  # (interpreter, script)
            cmd = [*reference, "--hidden", str(hidden), "--epochs", str(epochs + 1)]
        elif paired:
            cmd = [
                sys.executable,
                __file__,
                "--paired",
                str(hidden),
                str(epochs),
                str(ROOT),
                paired,
            ]
        else:
            out = str(self.root / "epochs-output")
            cmd = [sys.executable, __file__, "--child", str(folder), str(hidden), str(epochs), out]
            cmd += [] if xla else ["--no-xla"]
        self.empty_cache()
        return json.loads(self.run(cmd, env).stdout.strip().splitlines()[-1])

    def rounds_of(self, rounds, **forms):
        """{form: [its figures in each round]}, the forms alternating in each round."""
        runs = {name: [] for name in forms}
        for _ in range(rounds):
            for name, kwargs in forms.items():
                runs[name].append(self.measure(**kwargs))
        return runs

    def whole_runs(self, rounds):
        """Seconds of `import tensorflow` and the commands, alternating; rows of the table."""
        forms = [
            ('`python -c "import tensorflow"`', False, [sys.executable, "-c", "import tensorflow"])
        ]
        script = [sys.executable, str(ROOT / "sine_wave.py"), "--no-show", "--out"]
        forms.append(
            ("`python sine_wave.py --no-show`", False, [*script, str(self.root / "output")])
        )
        if self.against:
            script = [sys.executable, str(Path(self.against) / "sine_wave.py"), "--no-show"]
            cmd = [*script, "--out", str(self.root / "output-against")]
            command = f"`python {Path(self.against) / 'sine_wave.py'} --no-show`"
            forms.append((f"{command}, compile cache empty", True, cmd))
            forms.append((f"{command}, compile cache filled by the run before", False, cmd))
        times = {name: [] for name, _, _ in forms}
        for _ in range(rounds):
            for name, empty, cmd in forms:
                if empty:
                    self.empty_cache()
                started = time.perf_counter()
                self.run(cmd)
                times[name].append(time.perf_counter() - started)
        imports, ours = times[forms[0][0]], times[forms[1][0]]
        rows = []
        for name, t in times.items():
            past = statistics.median(a - b for a, b in zip(t, imports))
            rows.append(
                [
                    name,
                    f"{statistics.median(t):.2f}",
                    f"{past:.2f}",
                    f"{statistics.median(a / b for a, b in zip(t, imports)):.2f}",
                    f"{statistics.median(a / b for a, b in zip(t, ours)):.2f}",
                ]
            )
        return rows

    def phases(self, rounds):
        """Medians over `rounds` processes of each phase's seconds: the table's rows, and whether
        every timed run's metrics.json is the command's."""
        command = self.root / "output" / "metrics.json"
        if not command.exists():  # the whole-run table did not run the command
            self.run(
                [
                    sys.executable,
                    str(ROOT / "sine_wave.py"),
                    "--no-show",
                    "--out",
                    str(command.parent),
                ]
            )
        runs = []
        for n in range(rounds):
            out = self.root / f"phases-{n}"
            started, began = time.perf_counter(), time.time()
            proc = self.run([sys.executable, __file__, "--phases", str(out)])
            wall, ended = time.perf_counter() - started, time.time()
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            if any(before != after for before, after in run["traces"].values()):
                raise SystemExit(f"the timed call traced again: {run['traces']}")
            s = run["seconds"]
            s["start"] = run["main_began"] - began
            s["exit"] = ended - run["main_ended"]
            s["rest"] = run["main_s"] - sum(v for k, v in s.items() if k not in ("start", "exit"))
            s["total"], s["past"] = wall, wall - s["import"]
            runs.append(run)
        same = all(
            (self.root / f"phases-{n}" / "metrics.json").read_bytes() == command.read_bytes()
            for n in range(rounds)
        )
        calls, traces = runs[0]["calls"], runs[0]["traces"]
        n = {
            key: calls.get(key, 0)
            for key in ("train_op, later calls", "output, later calls", "figure")
        }
        step_traces = traces["train_op"][0]
        labels = [  # (key, label), in the order a run meets them
            ("start", "Python's start, `import sine_wave` (NumPy): before main()"),
            ("quiet_stderr", "the stderr filter: its helper process started and stopped"),
            ("load_pyplot", "import of Matplotlib (load_pyplot)"),
            ("import", "import tensorflow (in load_tensorflow)"),
            (
                "load_tensorflow",
                "the rest of load_tensorflow: XLA's warm-up compile, devices' start, determinism",
            ),
            ("output: tracing", "prediction: tracing (output.get_concrete_function)"),
            (
                "output: compile and the run",
                "prediction: XLA's compile and the run (first call of `output`)",
            ),
            (
                "train_op: tracing",
                f"the step: tracing, {step_traces} trace(s) (train_op.get_concrete_function)",
            ),
            (
                "train_op: compile and the run",
                "the step: XLA's compile and epoch 0 (first train_op call)",
            ),
            (
                "train_op, later calls",
                f"the epochs: the other {n['train_op, later calls']} train_op calls",
            ),
            (
                "output, later calls",
                f"the other {n['output, later calls']} predictions (calls of `output`)",
            ),
            ("figure", f"figures ({n['figure']} Output.figure calls: draw, save)"),
            ("save", "the checkpoint (Output.save)"),
            (
                "finish",
                "metrics, metrics.json, predictions.csv (Output.finish, less its figure, the move)",
            ),
            ("commit", "the move into --out (Output.commit)"),
            ("rest", "the rest of main(): gen_seq, the variables, the loop's log lines, ..."),
            ("exit", "Python's exit, TensorFlow's teardown with it: after main()"),
        ]
        keys = [k for k, _ in labels] + ["total", "past"]
        med = {key: statistics.median(r["seconds"].get(key, 0.0) for r in runs) for key in keys}
        rows = [
            [label, f"{med[key]:.3f}", f"{100 * med[key] / med['total']:.1f}"]
            for key, label in labels
        ]
        rows.append(
            [
                "past import tensorflow: all but its row",
                f"{med['past']:.3f}",
                f"{100 * med['past'] / med['total']:.1f}",
            ]
        )
        rows.append(["the whole process (wall)", f"{med['total']:.3f}", "100.0"])
        return rows, same


def epochs_for(hidden, quick):
    """200 epochs up to 64 units, 50 at 256, 12 at 1024 (an eighth with --quick, at least 3)."""
    return max(3, min(200, 12800 // hidden) // (8 if quick else 1))


def table(title, header, rows):
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    sys.stdout.flush()


def version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def describe(folder):
    """`git describe --always --dirty` of a checkout, or '?'."""
    cmd = ["git", "-C", str(folder), "describe", "--always", "--dirty"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return proc.stdout.strip() or "?"


def per_epoch(bench, args, tables):
    """The epochs, copies and no-xla tables: per --hidden, each form's process once a round."""
    against, rounds = args.against, args.rounds
    copies_flag = tuple(map(int, version("tensorflow").split(".")[:2])) >= (2, 19)
    figures = ("first_ms", "epoch_ms", "peak_mb")
    rows, copies, plain, paired = [], [], [], []
    for n, hidden in enumerate(args.hidden):
        size = dict(hidden=hidden, epochs=epochs_for(hidden, args.quick))
        forms = {"ours": size}
        if against and "epochs" in tables:
            forms["against"] = dict(size, folder=against)
        if copies_flag and "copies" in tables:  # XLA of TF 2.19 and later knows the flag
            forms["default"] = dict(size, flags=DEFAULT_COPIES)
        for name in ("jax", "torch") if "epochs" in tables else ():
            if getattr(args, name):
                script = str(ROOT / "benchmarks" / f"{name}_reference.py")
                forms[name] = dict(size, reference=(getattr(args, name), script))
        if against and "paired" in tables:
            forms["paired"] = dict(size, paired=against)
        if n == 0 and "no-xla" in tables:  # in the same rounds, fewer epochs: it is slow
            forms["plain"] = dict(size, epochs=NO_XLA_EPOCHS, xla=False)
        if len(forms) == 1 and "epochs" not in tables:
            continue
        runs = bench.rounds_of(rounds, **forms)
        if "paired" in runs:
            rs = runs.pop("paired")
            ms = [statistics.median(r["epoch_ms"][n] for r in rs) for n in (0, 1)]
            ratios = [r["ratio"] for r in rs]
            low, mid, high = min(ratios), statistics.median(ratios), max(ratios)
            row = [hidden, size["epochs"], f"{ms[0]:.2f}", f"{ms[1]:.2f}", f"{mid:.3f}"]
            paired.append(row + [f"{low:.3f}", f"{high:.3f}"])
        med = {
            name: {k: statistics.median(r[k] for r in rs) for k in figures}
            for name, rs in runs.items()
        }
        ours = med["ours"]
        row = [
            hidden,
            size["epochs"],
            f"{ours['first_ms'] / 1000:.2f}",
            f"{ours['epoch_ms']:.2f}",
            f"{ours['peak_mb']:.0f}",
        ]
        for name in "against", "jax", "torch":
            if name in med:
                other, ratio = med[name], median_ratio(runs, "ours", name)
                row += [
                    f"{other['first_ms'] / 1000:.2f}",
                    f"{other['epoch_ms']:.2f}",
                    f"{other['peak_mb']:.0f}",
                    f"{ratio:.2f}",
                ]
        rows.append(row)
        if "default" in med:
            ratio = median_ratio(runs, "default", "ours")
            copies.append(
                [
                    hidden,
                    f"{ours['epoch_ms']:.2f}",
                    f"{med['default']['epoch_ms']:.2f}",
                    f"{ratio:.2f}",
                ]
            )
        if "plain" in med:
            ratio = median_ratio(runs, "plain", "ours")
            plain = [
                ["XLA (`jit_compile=True`)", size["epochs"], f"{ours['epoch_ms']:.2f}", "1.00"],
                ["`--no-xla`", NO_XLA_EPOCHS, f"{med['plain']['epoch_ms']:.2f}", f"{ratio:.1f}"],
            ]
    if "epochs" in tables:
        header = [
            "--hidden",
            "epochs",
            "first epoch s (trace and compile)",
            "ms per epoch, each waited for",
            "peak MB",
        ]
        others = [
            (against, f"--against {against}"),
            (args.jax, "JAX"),
            (args.torch, "PyTorch nn.LSTM"),
        ]
        for given, label in others:
            if given:
                header += [f"{label}: first epoch s", f"{label}: ms per epoch", f"{label}: peak MB"]
                header.append(f"this checkout's ms ÷ {label}'s (the rounds' median)")
        table(
            "Per epoch and peak memory against --hidden (one process per figure, medians)",
            header,
            rows,
        )
    if paired:
        table(
            f"Per epoch, this checkout and --against {against} in one process, epoch by epoch",
            [
                "--hidden",
                "epochs, each",
                "ms per epoch, this checkout",
                "ms per epoch, --against",
                "this checkout's ÷ --against's (median over the rounds)",
                "lowest round",
                "highest round",
            ],
            paired,
        )
    if copies:
        table(
            "XLA's copy insertion: with region analysis (the script's setting) and XLA's default",
            [
                "--hidden",
                "ms per epoch, region analysis",
                "ms per epoch, XLA's default",
                "× slower by default",
            ],
            copies,
        )
    if plain:
        table(
            f"The step with XLA and as a plain tf.function (`--no-xla`), --hidden {args.hidden[0]}",
            [
                "form",
                "epochs",
                "ms per epoch, each waited for",
                "× the XLA step (the rounds' median ratio)",
            ],
            plain,
        )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = p.add_argument
    add("--hidden", type=int, nargs="+", default=[10, 64, 256], help="sizes (default: 10 64 256)")
    add("--against", metavar="DIR", help="a folder holding another version's sine_wave.py")
    add("--tables", nargs="+", choices=TABLES, default=TABLES, help="the tables to print (all)")
    add("--rounds", type=int, help="processes per form and figure (5; 1 with --quick)")
    add("--quick", action="store_true", help="few epochs, one round, no untimed warm-up")
    add("--jax", metavar="PYTHON", help="an interpreter with JAX installed, for the JAX columns")
    add("--torch", metavar="PYTHON", help="an interpreter with PyTorch, for the PyTorch columns")
    add("--child", nargs=4, help=argparse.SUPPRESS)
    add("--paired", nargs=4, help=argparse.SUPPRESS)
    add("--phases", metavar="OUT", help=argparse.SUPPRESS)
    add("--no-xla", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        folder, hidden, epochs, out = args.child
        return epochs_child(folder, int(hidden), int(epochs), out, xla=not args.no_xla)
    if args.phases:
        return phases_child(args.phases)
    if args.paired:
        hidden, epochs, *folders = args.paired
        return paired_child(int(hidden), int(epochs), *folders)
    if args.against and not (Path(args.against) / "sine_wave.py").is_file():
        p.error(f"--against {args.against!r}: no sine_wave.py there")
    args.against = args.against and str(Path(args.against).resolve())
    args.rounds = args.rounds or (1 if args.quick else 5)
    tables = set(args.tables)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"sine_wave.py benchmark, {date.today()}: {platform.machine()}, {cores} cores, Python "
        f"{platform.python_version()}, TensorFlow {version('tensorflow')}, "
        f"Keras {version('keras')}; "
        f"this checkout {describe(ROOT)}"
        + (f", --against {args.against} {describe(args.against)}" if args.against else "")
        + f"; {args.rounds} round(s)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="sine_wave-bench-") as root:
        bench = Bench(root, args.against, warm=not args.quick)  # --quick: its first process pays
        per_epoch(bench, args, tables)
        if "runs" in tables:
            table(
                "The whole run against import tensorflow (one process each, alternating, medians)",
                [
                    "command",
                    "seconds",
                    "seconds past import tensorflow",
                    "× import tensorflow",
                    "× `sine_wave.py --no-show`",
                ],
                bench.whole_runs(args.rounds),
            )
        if "phases" in tables:
            rows, same = bench.phases(args.rounds)
            processes = "one process" if args.rounds == 1 else f"medians of {args.rounds} processes"
            table(
                f"Where a run's time goes (sine_wave.main() timed phase by phase, {processes})",
                ["phase", "seconds", "% of the whole process"],
                rows,
            )
            print(
                "\nThe timed runs' metrics.json is the command's, byte for byte: "
                + ("yes" if same else "NO")
            )


if __name__ == "__main__":
    main()
