"""The evidence behind every speed and memory claim about sine_wave.py (docs/performance.md).

Prints five Markdown tables:
  1. per epoch and peak memory against --hidden: each size trains in a process of its own, the
     script's own step and loop, each epoch waited for as sine_wave.py's loop waits for it (its log
     line reads the error); with --jax PYTHON, benchmarks/jax_reference.py under that interpreter,
     with --torch PYTHON, benchmarks/torch_reference.py (PyTorch's nn.LSTM), the forms alternating;
  2. XLA's copy insertion with and without region analysis (sine_wave.XLA_COPY_FLAG), per size;
  3. the step with XLA against the plain tf.function of --no-xla;
  4. the whole command, a first run (empty compile cache) and a re-run (the cache filled by the
     run before), against `python -c "import tensorflow"`, alternating, as separate processes;
  5. where a re-run's time goes, phase by phase: sine_wave.main() in a process of its own, the
     cache warm, its functions wrapped in timers (in that process only; its metrics.json is
     checked against the command's).

Every process runs in a temporary HOME and XDG_CACHE_HOME, removed at the end: the compile cache
(sine_wave.CompileCache) starts empty, is emptied before each process of tables 1 to 3 (their
first epoch traces and compiles) and before each first run of table 4, and the user's own cache is
not touched.

    python benchmarks/bench.py                       # about 9 minutes on 2 cores (measured 2026-12-02)
    python benchmarks/bench.py --quick               # one round, fewer epochs: a smoke test (about 1.5 minutes)
    python benchmarks/bench.py --jax /path/to/venv-with-jax/bin/python --torch /path/to/venv-with-torch/bin/python \
        --hidden 10 64 256 1024

Timings on a shared machine are noisy: every figure is a median, and each ratio is the median of
the rounds' ratios, between figures measured in the same round.
"""

import argparse
import atexit
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sine_wave as sw  # noqa: E402


# --- The children: each prints one JSON line last
def child(hidden, epochs, xla):
    """The script's epoch loop, `epochs` + 1 epochs at `hidden` units in this process: epoch 0 (trace and
    compile), then the median epoch, and the peak memory."""
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.reconfigure(line_buffering=True)  # as sine_wave.main: each log line out at once
    tf = sw.load_tensorflow(xla)
    try:
        x, y = sw.gen_seq()
        feed = tuple(tf.constant(a, tf.float32) for a in sw.gen_inputs(y, len(x) // 2, 0))
        net = sw.Network(hidden)
        optimizer = tf.keras.optimizers.Adam(learning_rate=0.0, epsilon=sw.adam_epsilon)
        lr, train_op, seconds, errors = optimizer.learning_rate, sw.make_train_op(net, optimizer, xla), [], []
        for i in range(epochs + 1):  # as sine_wave.run() runs it: the log line's %1.5f waits for the step
            started = time.perf_counter()
            lr.assign(sw.learning_rate(i))
            err, net_outs = train_op(*feed)
            print('Epoch %d: %1.5f' % (i, err))
            errors.append(float(err))  # Output.epoch
            seconds.append(time.perf_counter() - started)
    finally:
        if sw.cache:
            sw.cache.keep()
    print(json.dumps({"first_ms": 1000 * seconds[0], "epoch_ms": 1000 * statistics.median(seconds[1:]),
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


class Phases:
    """Seconds per phase, each exclusive: a timed call inside another timed call counts in its own phase only."""

    def __init__(self):
        self.seconds, self.calls, self.stack = {}, {}, []

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
        def timed(*args, **kwargs):
            with self.timing(name if isinstance(name, str) else name()):
                return fn(*args, **kwargs)
        return timed

    def compiled(self, fn, first, later):
        """A tf.function whose first call is split: tracing (get_concrete_function, the same trace the call
        then reuses), then the call (XLA's compile, or the program read from the cache, and the run)."""
        def call(*args):
            if first + ": tracing" not in self.seconds:
                with self.timing(first + ": tracing"):
                    fn.get_concrete_function(*args)
                with self.timing(first + ": compile or cache load, and the run"):
                    return fn(*args)
            with self.timing(later):
                return fn(*args)
        return call


class TracedTF:
    """sine_wave's `tf`, except that tf.function(net) (run()'s `output`) comes back timed."""

    def __init__(self, tf, phases, traces):
        self._tf, self._phases, self._traces = tf, phases, traces

    def __getattr__(self, name):
        return getattr(self._tf, name)

    def function(self, fn=None, **kwargs):
        compiled = self._tf.function(fn, **kwargs)
        if not isinstance(fn, sw.Network):
            return compiled
        self._traces["output"] = compiled.experimental_get_tracing_count
        return self._phases.compiled(compiled, "output", "output, later calls")


def phases_child(out):
    """sine_wave.main(["--no-show", "--out", out]) in this process, its functions wrapped in timers."""
    ph, traces, marks = Phases(), {}, {}

    real_quiet = sw.quiet_stderr

    @contextlib.contextmanager
    def quiet_stderr():  # its helper's start and stop; what runs inside is timed by the rest
        started = time.perf_counter()
        cm = real_quiet()
        cm.__enter__()
        ph.add("quiet_stderr", time.perf_counter() - started)
        try:
            yield
        finally:
            started = time.perf_counter()
            cm.__exit__(*sys.exc_info())
            ph.add("quiet_stderr", time.perf_counter() - started)

    real_load = sw.load_tensorflow

    def load_tensorflow(xla=False):
        if sw.tf is not None:
            return sw.tf
        marks["load"] = time.perf_counter()
        with ph.timing("load_tensorflow"):
            tf = real_load(xla)
        sw.tf = TracedTF(tf, ph, traces)
        return sw.tf

    real_cache_init = sw.CompileCache.__init__

    def cache_init(self, tf_version):  # called just after `import tensorflow`, before the devices start
        marks["import"] = time.perf_counter() - marks["load"]
        with ph.timing("CompileCache"):
            real_cache_init(self, tf_version)
        config = sys.modules["tensorflow"].config
        config.list_logical_devices = ph.wrap("devices", config.list_logical_devices)

    real_make = sw.make_train_op

    def make_train_op(net, optimizer, xla=True):
        train_op = real_make(net, optimizer, xla)
        traces["train_op"] = train_op.experimental_get_tracing_count
        return ph.compiled(train_op, "train_op", "train_op, later calls")

    sw.quiet_stderr, sw.load_tensorflow, sw.make_train_op = quiet_stderr, load_tensorflow, make_train_op
    sw.CompileCache.__init__ = cache_init
    sw.CompileCache.fill = ph.wrap("fill", sw.CompileCache.fill)
    sw.CompileCache.keep = ph.wrap("keep", sw.CompileCache.keep)
    sw.load_pyplot = ph.wrap("load_pyplot", sw.load_pyplot)
    sw.Output.figure = ph.wrap("figure", sw.Output.figure)
    sw.Output.save = ph.wrap("save", sw.Output.save)
    sw.Output.finish = ph.wrap("finish", sw.Output.finish)
    started = time.perf_counter()
    code = sw.main(["--no-show", "--out", out])  # its log into the pipe, as the command's; the JSON line after it
    main_s = time.perf_counter() - started
    if code:
        raise SystemExit(f"sine_wave.main() exited with status {code}")
    seconds = dict(ph.seconds)
    if "import" in marks:  # load_tensorflow's own time: the import before CompileCache, XLA's warm-up after the devices
        seconds["import"], seconds["load_tensorflow"] = marks["import"], seconds["load_tensorflow"] - marks["import"]
    print(json.dumps({"main_s": main_s, "seconds": seconds, "calls": ph.calls,
                      "traces": {name: count() for name, count in traces.items()}}), flush=True)
    atexit._run_exitfuncs()  # then out at once, as the script exits
    os._exit(0)


# --- The parent
def run_child(cmd, env):
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


class Bench:
    """The children's environment: HOME and XDG_CACHE_HOME in a temporary folder, so the compile cache starts empty."""

    def __init__(self, root, warm=True):
        self.root = Path(root)
        (self.root / "home").mkdir()
        self.cache = self.root / "cache"
        self.env = {**os.environ, "HOME": str(self.root / "home"), "XDG_CACHE_HOME": str(self.cache)}
        if warm:  # Matplotlib's font cache (in XDG_CACHE_HOME) built once, TensorFlow's files read once, untimed
            run_child([sys.executable, "-c", "import tensorflow, matplotlib.pyplot"], self.env)

    def empty_cache(self):
        shutil.rmtree(self.cache / "sine_wave", ignore_errors=True)

    def measure(self, hidden, epochs, xla=True, flags=None, jax=None, torch=None):
        """One child process's {first_ms, epoch_ms, peak_mb}, its compile cache empty."""
        env = {**self.env, "XLA_FLAGS": flags} if flags else self.env
        reference = [jax, str(ROOT / "benchmarks" / "jax_reference.py")] if jax else \
            [torch, str(ROOT / "benchmarks" / "torch_reference.py")] if torch else None
        cmd = (reference + ["--hidden", str(hidden), "--epochs", str(epochs + 1)] if reference
               else [sys.executable, __file__, "--child", str(hidden), str(epochs)] + ([] if xla else ["--no-xla"]))
        self.empty_cache()
        return json.loads(run_child(cmd, env).stdout.strip().splitlines()[-1])

    def rounds_of(self, rounds, **forms):
        """Each form's child once per round, the forms alternating; medians of each figure and of each ratio to the first."""
        runs = {name: [] for name in forms}
        for _ in range(rounds):
            for name, kwargs in forms.items():
                runs[name].append(self.measure(**kwargs))
        first = next(iter(runs.values()))
        result = {}
        for name, rs in runs.items():
            result[name] = {k: statistics.median(r[k] for r in rs) for k in ("first_ms", "epoch_ms", "peak_mb")}
            result[name]["ratio_epoch_ms"] = statistics.median(r["epoch_ms"] / f["epoch_ms"] for r, f in zip(rs, first))
        return result

    def first_run_and_rerun(self, rounds):
        """Seconds of `import tensorflow`, a first run and a re-run, alternating; rows of the table."""
        script = [sys.executable, str(ROOT / "sine_wave.py"), "--no-show", "--out", str(self.root / "output")]
        forms = {"`python -c \"import tensorflow\"`": (False, [sys.executable, "-c", "import tensorflow"]),
                 "`python sine_wave.py --no-show`, first run (compile cache empty)": (True, script),
                 "`python sine_wave.py --no-show`, re-run (compile cache filled by the first)": (False, script)}
        times = {name: [] for name in forms}
        for _ in range(rounds):  # alternating, so all three see the same machine
            for name, (empty, cmd) in forms.items():
                if empty:
                    self.empty_cache()
                started = time.perf_counter()
                run_child(cmd, self.env)
                times[name].append(time.perf_counter() - started)
        base = next(iter(times.values()))
        return [[name, f"{statistics.median(t):.2f}", f"{statistics.median(a - b for a, b in zip(t, base)):.2f}",
                 f"{statistics.median(a / b for a, b in zip(t, base)):.2f}"] for name, t in times.items()]

    def phases(self, rounds):
        """Medians over `rounds` re-runs of each phase's seconds; rows of the table, and whether the metrics match."""
        runs, walls = [], []
        for n in range(rounds):
            out = self.root / f"phases-{n}"
            started = time.perf_counter()
            proc = run_child([sys.executable, __file__, "--phases", str(out)], self.env)
            walls.append(time.perf_counter() - started)
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            if run["traces"] != {"output": 1, "train_op": 1}:  # get_concrete_function's trace was not reused
                raise SystemExit(f"the timed run traced again: {run['traces']}")
            runs.append(run)
        same = all((self.root / f"phases-{n}" / "metrics.json").read_text() ==
                   (self.root / "output" / "metrics.json").read_text() for n in range(rounds))
        calls = runs[0]["calls"]
        epochs = calls.get("train_op, later calls", 0)
        later = calls.get("output, later calls", 0)
        labels = [  # (key, label), in the order a run meets them
            ("outside", "Python's start and exit, `import sine_wave` (NumPy): outside main()"),
            ("quiet_stderr", "the stderr filter: its helper process started and stopped (quiet_stderr)"),
            ("load_pyplot", "import of Matplotlib (load_pyplot)"),
            ("import", "import tensorflow (in load_tensorflow)"),
            ("CompileCache", "the compile cache: its folder chosen and checked (CompileCache)"),
            ("devices", "device start (tf.config.list_logical_devices)"),
            ("load_tensorflow", "XLA's warm-up compile, op determinism: the rest of load_tensorflow"),
            ("fill", "the compile cache: programs checked and copied into the run's folder (CompileCache.fill)"),
            ("output: tracing", "prediction: tracing (output.get_concrete_function)"),
            ("output: compile or cache load, and the run", "prediction: compile or cache load, and the run "
                                                            "(first call of `output`)"),
            ("train_op: tracing", "the step: tracing (train_op.get_concrete_function)"),
            ("train_op: compile or cache load, and the run", "the step: compile or cache load, and epoch 0 "
                                                              "(first train_op call)"),
            ("train_op, later calls", f"the epochs: the other {epochs} train_op calls"),
            ("output, later calls", f"the other {later} predictions (calls of `output`)"),
            ("figure", f"figures ({calls.get('figure', 0)} Output.figure calls: draw, save)"),
            ("save", "the checkpoint (Output.save)"),
            ("finish", "metrics and metrics.json, the move into --out (Output.finish less its figure, "
                       "Output.commit)"),
            ("keep", "the compile cache: new programs kept (CompileCache.keep)"),
            ("rest", "the rest of main(): gen_seq, the variables, the loop's log lines, ..."),
        ]
        for run, wall in zip(runs, walls):
            s = run["seconds"]
            s["outside"] = wall - run["main_s"]
            s["rest"] = run["main_s"] - sum(v for k, v in s.items() if k != "outside")
            s["total"], s["past"] = wall, wall - s["import"]
        med = {key: statistics.median(r["seconds"].get(key, 0.0) for r in runs)
               for key in [k for k, _ in labels] + ["total", "past"]}
        rows = [[label, f"{med[key]:.3f}", f"{100 * med[key] / med['total']:.1f}"] for key, label in labels]
        rows += [["past import tensorflow: all but the import's row", f"{med['past']:.3f}",
                  f"{100 * med['past'] / med['total']:.1f}"],
                 ["the whole process (wall)", f"{med['total']:.3f}", "100.0"]]
        return rows, same


def epochs_for(hidden, quick):
    """200 epochs up to 64 units, 50 at 256, 12 at 1024 (an eighth with --quick)."""
    return max(3, min(200, 12800 // hidden) // (8 if quick else 1))


def table(title, header, rows):
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    sys.stdout.flush()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, nargs="+", default=[10, 64, 256], help="sizes (default: 10 64 256)")
    p.add_argument("--jax", metavar="PYTHON", help="an interpreter with JAX installed, for the JAX columns")
    p.add_argument("--torch", metavar="PYTHON", help="an interpreter with PyTorch installed, for the PyTorch columns")
    p.add_argument("--quick", action="store_true", help="fewer epochs, one round of processes per table, no untimed warm-up")
    p.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    p.add_argument("--phases", metavar="OUT", help=argparse.SUPPRESS)
    p.add_argument("--no-xla", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(*args.child, xla=not args.no_xla)
    if args.phases:
        return phases_child(args.phases)
    import importlib.metadata

    rounds = 1 if args.quick else 5
    tf_version = [importlib.metadata.version(name) for name in ("tensorflow", "keras")]
    print(f"sine_wave.py benchmark: Python {sys.version.split()[0]}, TensorFlow {tf_version[0]}, Keras {tf_version[1]}, "
          f"{os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="sine_wave-bench-") as root:
        bench = Bench(root, warm=not args.quick)  # --quick: its first process pays for them
        rows, copies, first_size, new_flag = [], [], None, tuple(map(int, tf_version[0].split(".")[:2])) >= (2, 19)
        for hidden in args.hidden:
            epochs = epochs_for(hidden, args.quick)
            forms = {"ours": dict(hidden=hidden, epochs=epochs)}
            if args.jax:
                forms["jax"] = dict(hidden=hidden, epochs=epochs, jax=args.jax)
            if args.torch:
                forms["torch"] = dict(hidden=hidden, epochs=epochs, torch=args.torch)
            if new_flag:  # XLA of TF 2.19 and later knows the flag (sine_wave.XLA_COPY_FLAG)
                forms["default"] = dict(hidden=hidden, epochs=epochs,
                                        flags="--xla_cpu_copy_insertion_use_region_analysis=false")
            got = bench.rounds_of(rounds, **forms)
            ours = got["ours"]
            first_size = first_size if rows else ours
            row = [hidden, epochs, f"{ours['first_ms'] / 1000:.2f}", f"{ours['epoch_ms']:.2f}", f"{ours['peak_mb']:.0f}"]
            if args.jax:
                jax = got["jax"]
                row += [f"{jax['epoch_ms']:.2f}", f"{jax['peak_mb']:.0f}", f"{1 / jax['ratio_epoch_ms']:.2f}"]
            if args.torch:
                torch = got["torch"]
                row += [f"{torch['epoch_ms']:.2f}", f"{torch['peak_mb']:.0f}", f"{1 / torch['ratio_epoch_ms']:.2f}"]
            rows.append(row)
            if new_flag:
                default = got["default"]
                copies.append([hidden, f"{ours['epoch_ms']:.2f}", f"{default['epoch_ms']:.2f}",
                               f"{default['ratio_epoch_ms']:.2f}"])
        header = ["--hidden", "epochs", "first epoch s (trace and compile)",
                  "ms per epoch, each waited for (as the script runs)", "peak MB"]
        table("Per epoch and peak memory against --hidden (one process per figure, medians)",
              header + (["JAX ms, waited", "JAX peak MB", "× JAX (median of the rounds' ratios)"] if args.jax else [])
              + (["PyTorch nn.LSTM ms, waited", "PyTorch peak MB", "× PyTorch (median of the rounds' ratios)"]
                 if args.torch else []), rows)
        if copies:
            table("XLA's copy insertion: with region analysis (the script's setting) and XLA's default",
                  ["--hidden", "ms per epoch, region analysis", "ms per epoch, XLA's default", "× slower by default"],
                  copies)
        small, xla = args.hidden[0], first_size
        plain = bench.rounds_of(rounds, plain=dict(hidden=small, epochs=20, xla=False))["plain"]  # 20 epochs: it is slow
        table(f"The step with XLA and as a plain tf.function (`--no-xla`), --hidden {small}",
              ["form", "ms per epoch, each waited for", "× the XLA step"],
              [["XLA (`jit_compile=True`)", f"{xla['epoch_ms']:.2f}", "1.00"],
               ["`--no-xla`", f"{plain['epoch_ms']:.2f}", f"{plain['epoch_ms'] / xla['epoch_ms']:.1f}"]])
        table("First run and re-run against import tensorflow (alternating as separate processes, medians)",
              ["command", "seconds", "seconds past import tensorflow", "× import tensorflow"],
              bench.first_run_and_rerun(rounds))
        phase_rows, same = bench.phases(rounds)  # the cache as the last re-run left it: warm
        table(f"Where a re-run's time goes, past import tensorflow (sine_wave.main() timed phase by phase, compile "
              f"cache warm, {'one process' if rounds == 1 else f'medians of {rounds} processes'})",
              ["phase", "seconds", "% of the whole process"], phase_rows)
        print(f"\nThe timed runs' metrics.json is the command's, byte for byte: {'yes' if same else 'NO'}")
        print("(Past the import alone, not the whole `python -c \"import tensorflow\"` of the table before, which also "
              "pays Python's teardown of TensorFlow at exit; sine_wave.py skips it with os._exit.)")


if __name__ == "__main__":
    main()
