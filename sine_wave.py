"""TensorFlow and Recurrent Neural Networks, on today's TensorFlow.

A faithful, runnable reproduction of Maksim An's blog post of 2016-03-10,
"TensorFlow and Recurrent Neural Networks", whose code was written for
TensorFlow 0.7 (`tensorflow.models.rnn`, placeholders, sessions) and no longer
runs. The story is the post's, in the post's order and with the post's names:

    1. gen_seq()      a bell-modulated sine wave, 1257 points
    2. gen_inputs()   windows of `seq_width` values and the value `lag` steps later
    3. the network    an LSTM of `num_hidden` units run over the first half as ONE
                      sequence, then `output = h @ W + b`
    4. the untrained network's output
    5. training       `error = sqrt(sum((output - target)^2))`, Adam, clipping,
                      100 epochs of one full-sequence update each
    6. a checkpoint   sine-wave-rnn-{num_hidden}-{seq_width}-0
    7. predictions    on the training half and on the unseen test half

Every number the TF 0.7 code used is kept (README.md, "Differences from the
post", lists the few places where the post's code had a bug):
initialisers, forget-gate bias, Adam's epsilon, global-norm clipping and the
learning-rate chain as it actually ran.

    python sine_wave.py            # train, print the log, write output/
    python sine_wave.py --restore  # predict from the saved checkpoint
    python sine_wave.py --help
"""

import argparse
import contextlib
import json
import math
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

# ---------------------------------------------------------------------------
# Settings: the post's numbers, each in one place. The command line overrides
# the ones it names; the rest are fixed by the post's TF 0.7 code.
# ---------------------------------------------------------------------------
num_hidden = 10        # LSTM units (post: num_hidden)
seq_width = 10         # values in each input window (post: seq_width)
lag = 60               # the target lies `lag` steps past the window's end (post: lag)
epochs = 100           # full-sequence updates (post: range(100))
init_scale = 0.1       # LSTM kernels ~ U(-0.1, 0.1) (post: random_uniform_initializer(-.1, .1))
clip_norm = 5.0        # tf.clip_by_global_norm(grads, 5.)
adam_epsilon = 1e-8    # TF 0.7 AdamOptimizer's default; Keras 3 would use 1e-7
seed = 20160310        # the post's date; same seed, same log
out_dir = "output"     # where figures, checkpoint and metrics go

# The post's learning-rate chain. As written, `elif i > 50` and `elif i > 75`
# can never run (any i > 50 already took `if i > 25`), so the post trained
# at 1e-2 then 5e-3. "stepped" is what the chain was meant to do.
LR_SCHEDULES = {
    "as-written": [(25, 5e-3)],
    "stepped": [(75, 1e-5), (50, 1e-4), (25, 5e-3)],
}
BASE_LR = 1e-2

PROG = "sine_wave.py"


class UserError(Exception):
    """A problem the user can fix; printed as one line, with an exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------
# 1. The sequence. The post's gen_seq also plotted; here plotting is separate
#    (plot_sequence) so the data can be made without drawing anything.
# ---------------------------------------------------------------------------
def gen_seq():
    x = np.arange(0.0, np.pi * 12, 0.03)
    bell = np.exp(-((np.sin(x - np.pi / 2) - 2 * np.pi) ** 2) / 9.0)
    y = 100 * np.sin(8 * x) * bell
    y = np.reshape(y, (len(y), 1))
    return x, y


# ---------------------------------------------------------------------------
# 2. Inputs and targets. Row k stands for position i = offset + k: its window
#    is y[i : i + seq_width] and its target y[i + seq_width + lag], with zeros
#    wherever the post's loop ran past the end of y. Same values as the post's
#    double loop (tests/test_data.py checks), built with one padded view.
# ---------------------------------------------------------------------------
def gen_inputs(y, n_steps, offset, seq_width=seq_width, lag=lag):
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    # Pad so every index the post's loop could touch exists; padding is 0,
    # which is what the loop appended for indices past the end.
    last = offset + n_steps + seq_width + lag
    padded = np.zeros(max(last, len(y)) + 1)
    padded[: len(y)] = y
    windows = np.lib.stride_tricks.sliding_window_view(padded, seq_width)
    seq_input = windows[offset : offset + n_steps].copy()
    seq_target = padded[offset + seq_width + lag : offset + seq_width + lag + n_steps]
    return seq_input, seq_target.reshape(-1, 1)


def real_target_count(n_targets, offset, seq_width, lag, length):
    """How many of the rows from `offset` have a target inside the sequence."""
    first = offset + seq_width + lag
    return int(np.clip(length - first, 0, n_targets))


# ---------------------------------------------------------------------------
# TensorFlow is imported only when a run needs it (not for --help, not for a
# bad option, not by `import sine_wave`), and its C++ start-up lines are kept
# off the console. On a CPU-only machine TF 2.21 prints a oneDNN notice, "Could
# not find cuda drivers" and a cuInit error even with TF_CPP_MIN_LOG_LEVEL set:
# they come from absl before TF's own log level applies. So stderr is caught
# while TF loads and finds its devices, the known harmless lines are dropped,
# and anything else (a real error) is passed on.
# ---------------------------------------------------------------------------
_TF_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)"
    r"|oneDNN custom operations are on"
    r"|Could not find cuda drivers"
    r"|failed call to cuInit"
    r"|cpu_feature_guard|This TensorFlow binary is optimized"
    r"|To enable the following instructions"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning"
    r"|XLA service .* initialized for platform|StreamExecutor (device )?[\[(]\d+[\])]: Host"
    r"|Compiled cluster using XLA"
)


@contextlib.contextmanager
def _filtered_stderr(noise):
    """Route file descriptor 2 to a file; on exit pass on what isn't noise."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as caught:
        saved = os.dup(2)
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            for line in caught.read().decode(errors="replace").splitlines():
                if line.strip() and not noise.search(line):
                    print(line, file=sys.stderr)


def import_tensorflow():
    """Import TensorFlow quietly; a failed import says why in one line."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # INFO off; warnings, errors on
    # Notices about the libraries' own future APIs are for their developers,
    # not for someone running this script; anything else still shows.
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(tensorflow|keras|matplotlib|absl)\b")
    try:
        with _filtered_stderr(_TF_NOISE):
            import tensorflow as tf

            tf.config.list_logical_devices()  # device start-up (cuInit) happens here
            # XLA announces itself on its first compile (TF 2.16 prints that at
            # INFO level whatever TF_CPP_MIN_LOG_LEVEL says): let it do so here.
            tf.function(lambda: tf.constant(1.0) + 1.0, jit_compile=True, autograph=False)()
    except Exception as exc:  # ImportError, or a broken install failing its own way
        raise UserError(
            f"cannot import TensorFlow ({type(exc).__name__}: {_first_line(exc)}); "
            "install it with: pip install -r requirements.txt"
        ) from None
    return tf


# ---------------------------------------------------------------------------
# 3. The network, as TF 0.7 built it: one LSTM over the whole half-sequence
#    (batch 1, zero initial state), then a linear read-out W, b.
#    - kernel and recurrent kernel ~ U(-0.1, 0.1): 0.7's LSTMCell drew its one
#      [input + hidden, 4 * hidden] matrix from the initializer passed in;
#    - bias zero plus 1 on the forget gate (unit_forget_bias);
#    - W ~ U(+-sqrt(3 / num_hidden)), b ~ U(+-sqrt(3)): tf.get_variable with no
#      initializer used uniform_unit_scaling in 0.7; the bias is random.
# ---------------------------------------------------------------------------
@dataclass
class Network:
    lstm: object  # keras.layers.LSTM
    W: object     # tf.Variable [num_hidden, 1]
    b: object     # tf.Variable [1]

    def __call__(self, seq_input):
        """[n_steps, seq_width] -> [n_steps, 1]: the post's `output`."""
        outputs = self.lstm(seq_input[None])[0]  # one sequence, batch of 1
        return outputs @ self.W + self.b

    @property
    def trainable_variables(self):
        return [*self.lstm.trainable_variables, self.W, self.b]


def build_network(num_hidden=num_hidden, seq_width=seq_width, seed=seed):
    tf = import_tensorflow()
    import keras

    uniform = keras.initializers.RandomUniform
    lstm = keras.layers.LSTM(
        num_hidden,
        return_sequences=True,
        kernel_initializer=uniform(-init_scale, init_scale, seed=seed),
        recurrent_initializer=uniform(-init_scale, init_scale, seed=seed + 1),
        bias_initializer="zeros",
        unit_forget_bias=True,  # 0.7 added a constant 1 to the forget gate; Keras starts its bias at 1
        name="lstm",
    )
    lstm.build((1, None, seq_width))
    rng = np.random.default_rng(seed)
    w_scale, b_scale = math.sqrt(3.0 / num_hidden), math.sqrt(3.0)
    W = tf.Variable(rng.uniform(-w_scale, w_scale, (num_hidden, 1)).astype(np.float32), name="W")
    b = tf.Variable(rng.uniform(-b_scale, b_scale, (1,)).astype(np.float32), name="b")
    return Network(lstm, W, b)


# ---------------------------------------------------------------------------
# 4. Error, learning rate and optimiser, as in the post.
# ---------------------------------------------------------------------------
def error(output, seq_target):
    """The post's error: the L2 norm of the residual (not a mean)."""
    tf = import_tensorflow()
    return tf.sqrt(tf.reduce_sum(tf.square(output - seq_target)))


def learning_rate(i, schedule="as-written"):
    """The rate the post's `if/elif` chain sets before epoch i."""
    for after, rate in LR_SCHEDULES[schedule]:
        if i > after:
            return rate
    return BASE_LR


def build_optimizer(network):
    import keras

    optimizer = keras.optimizers.Adam(learning_rate=BASE_LR, epsilon=adam_epsilon)
    # Built up front so a checkpoint has the same variables whether or not any
    # epoch ran (--epochs 0) and so --restore can load the Adam moments.
    optimizer.build(network.trainable_variables)
    return optimizer


# ---------------------------------------------------------------------------
# 5. One training step and the prediction run. The post's session.run
#    returned the error and output computed before that step's update; so
#    does train_step. Both are traced once (the training and test halves have
#    the same shape) and compiled with XLA: the model is tiny, so an epoch is
#    628 small sequential steps and the cost is per-op overhead, which XLA
#    fuses away.
# ---------------------------------------------------------------------------
def make_train_step(network, optimizer, jit_compile=True):
    tf = import_tensorflow()
    tvars = network.trainable_variables

    @tf.function(jit_compile=jit_compile, autograph=False)
    def train_step(seq_input, seq_target):
        with tf.GradientTape() as tape:
            output = network(seq_input)
            err = error(output, seq_target)
        grads, _ = tf.clip_by_global_norm(tape.gradient(err, tvars), clip_norm)
        optimizer.apply_gradients(zip(grads, tvars))
        return err, output

    return train_step


def make_predict(network, jit_compile=True):
    tf = import_tensorflow()
    return tf.function(network.__call__, jit_compile=jit_compile, autograph=False)


class Diverged(Exception):
    pass


def train(train_step, optimizer, train_input, train_target, n_epochs,
          schedule="as-written", log=print, progress=None):
    """Run the post's training loop; returns the error logged at each epoch.

    `progress`, if given, is kept up to date: the epoch under way, and how
    long each epoch took.
    """
    progress = {} if progress is None else progress
    progress["seconds"] = []
    errors = []
    for i in range(n_epochs):
        progress["epoch"] = i
        started = time.perf_counter()
        optimizer.learning_rate.assign(learning_rate(i, schedule))
        err, _ = train_step(train_input, train_target)
        err = float(err)
        progress["seconds"].append(time.perf_counter() - started)
        if not math.isfinite(err):
            raise Diverged(f"the training error became {err} at epoch {i}")
        errors.append(err)
        log("Epoch %d: %1.5f" % (i, err))
    return errors


# ---------------------------------------------------------------------------
# 6. The checkpoint: every variable of the run (LSTM, W, b, Adam's moments and
#    step count, the learning rate) under the post's name. TF 0.7's Saver
#    wrote <name>-<global_step>; tf.train.Checkpoint writes <prefix>.index and
#    <prefix>.data-00000-of-00001.
# ---------------------------------------------------------------------------
def checkpoint_prefix(out, num_hidden, seq_width):
    return os.path.join(out, f"sine-wave-rnn-{num_hidden}-{seq_width}-0")


def make_checkpoint(network, optimizer):
    tf = import_tensorflow()
    return tf.train.Checkpoint(lstm=network.lstm, W=network.W, b=network.b, optimizer=optimizer)


def require_checkpoint(prefix, command_hint):
    index = prefix + ".index"
    if not os.path.exists(index):
        raise UserError(f"no checkpoint at {prefix} (looked for {index}); create it with: {command_hint}")


def restore_checkpoint(ckpt, prefix, command_hint):
    """Load `prefix` into `ckpt`, or raise a one-line UserError saying why not."""
    tf = import_tensorflow()
    require_checkpoint(prefix, command_hint)
    try:
        reader = tf.train.load_checkpoint(prefix)
        saved = reader.get_variable_to_shape_map()
    except Exception as exc:  # TF raises several kinds for a damaged file
        raise UserError(f"cannot read checkpoint {prefix}: {_first_line(exc)}") from None
    # Compare shapes before loading: TF's own mismatch error is a page long.
    expected = _checkpoint_shapes(ckpt)
    # The network's own variables first: naming W or the LSTM kernel says more
    # than naming Adam's moment for it.
    for key, shape in sorted(expected.items(), key=lambda kv: (kv[0].startswith("optimizer"), kv[0])):
        if key not in saved:
            raise UserError(f"checkpoint {prefix} has no variable {_short(key)}; it was not written by this script")
        if list(saved[key]) != list(shape):
            raise UserError(
                f"checkpoint {prefix} does not fit these options: {_short(key)} has shape "
                f"{tuple(saved[key])} in the file but {tuple(shape)} here (check --hidden and --seq-width)"
            )
    try:
        ckpt.read(prefix).assert_existing_objects_matched()
    except Exception as exc:
        raise UserError(f"cannot read checkpoint {prefix}: {_first_line(exc)}") from None


def _checkpoint_shapes(ckpt):
    """{checkpoint key: shape} that `ckpt` writes, learned from a scratch save."""
    tf = import_tensorflow()
    with tempfile.TemporaryDirectory() as scratch:
        path = ckpt.write(os.path.join(scratch, "probe"))
        return dict(tf.train.load_checkpoint(path).get_variable_to_shape_map())


def _short(key):
    return key.replace("/.ATTRIBUTES/VARIABLE_VALUE", "")


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------
# 7. How good is it? RMSE on the test half against three simple predictors on
#    the same windows. Only rows whose target is real data count: past the end
#    of the sequence gen_inputs pads targets with zeros.
# ---------------------------------------------------------------------------
def rmse(pred, target):
    pred, target = np.ravel(pred), np.ravel(target)
    return float(np.sqrt(np.mean((pred - target) ** 2)))


def baseline_predictions(train_input, train_target, test_input):
    """Always zero; the window's last value; a least-squares linear map."""
    design = np.hstack([train_input, np.ones((len(train_input), 1))])
    coef, *_ = np.linalg.lstsq(design, np.ravel(train_target), rcond=None)
    return {
        "zero": np.zeros(len(test_input)),
        "last_value": test_input[:, -1],
        "linear": np.hstack([test_input, np.ones((len(test_input), 1))]) @ coef,
    }


def rmse_on_test_half(test_outs, train_input, train_target, test_input, test_target, n_real):
    preds = {"lstm": np.ravel(test_outs)}
    preds.update(baseline_predictions(train_input, train_target, test_input))
    return {name: rmse(p[:n_real], test_target[:n_real]) for name, p in preds.items()}


# ---------------------------------------------------------------------------
# 8. Figures, with the post's colours and line styles plus what it lacked:
#    titles, axis labels, legends. Each function draws on the figure it is
#    given, so the same code serves files (a bare Figure, no display needed)
#    and windows (a pyplot figure).
# ---------------------------------------------------------------------------
WIDE = (12, 7)  # the post's trained-network figures were wide


def _finish(fig, ax, title, xlabel="x", ylabel="y"):
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    # Below the axes, so it never hides the curves it explains.
    if ax.get_legend_handles_labels()[0]:
        fig.legend(loc="outside lower center", ncols=4, frameon=False)
    return fig


def plot_sequence(fig, x, y):
    ax = fig.subplots()
    ax.plot(x, y, "b-", label="y = 100 sin(8x) exp(-(sin(x - pi/2) - 2 pi)^2 / 9)")
    return _finish(fig, ax, "The sequence: a sine wave under a repeating bell")


def plot_untrained(fig, x, train_target, net_outs):
    ax = fig.subplots()
    ax.plot(x, train_target, "b-", label="target (training half)")
    ax.plot(x, net_outs, "r-", label="untrained network's output")
    return _finish(fig, ax, "Before training")


def plot_training_complete(fig, x_train, train_target, train_outs, x_test, test_target, test_outs):
    ax = fig.subplots()
    ax.plot(x_train, train_target, "b-", label="target")
    ax.plot(x_train, train_outs, "g--", label="output, training half")
    ax.plot(x_test, test_outs, "r--", label="output, test half (unseen)")
    ax.plot(x_test, test_target, "b-")
    ax.axvline(x_test[0], color="0.6", linewidth=0.8)
    return _finish(fig, ax, "After training: the training half, then the unseen test half")


def plot_training_error(fig, errors):
    ax = fig.subplots()
    if errors:
        ax.semilogy(range(len(errors)), errors, "b.-", label="error = sqrt(sum((output - target)^2))")
    else:
        ax.text(0.5, 0.5, "no epochs run", ha="center", va="center", transform=ax.transAxes)
    return _finish(fig, ax, "Training error per epoch (before each update)", "epoch", "error (log scale)")


class Figures:
    """Draws each figure and saves it into `folder`.

    Where a window can open, each figure is drawn on the main thread and shown
    when the post shows it (plt.show() blocks until the window is closed, as
    in the post). Elsewhere figures are drawn and saved on one worker thread,
    while training runs.
    """

    def __init__(self, folder, show):
        self.folder = folder
        self.plt = _interactive_pyplot() if show else None
        self.pool = None if self.plt else ThreadPoolExecutor(max_workers=1)
        self.jobs = []

    def draw(self, name, plot, *data, figsize=(8, 6)):
        path = os.path.join(self.folder, name)
        if self.plt is not None:
            _draw(self.plt.figure(num=name, figsize=figsize, layout="constrained"), plot, data, path)
        else:
            self.jobs.append(self.pool.submit(_draw, None, plot, data, path, figsize))

    def show(self):
        if self.plt is not None:
            self.plt.show()

    def wait(self):
        """Block until every figure is saved; re-raise a drawing error."""
        for job in self.jobs:
            job.result()

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _draw(fig, plot, data, path, figsize=None):
    if fig is None:
        from matplotlib.figure import Figure  # Agg, no pyplot: safe off the main thread

        fig = Figure(figsize=figsize, layout="constrained")
    plot(fig, *data)
    fig.savefig(path, dpi=100)


def _interactive_pyplot():
    """pyplot if a window can open here (honouring MPLBACKEND), else None."""
    if os.environ.get("CI"):
        return None
    backend = os.environ.get("MPLBACKEND", "")
    if backend.lower() in {"agg", "pdf", "ps", "svg", "pgf", "cairo", "template"}:
        return None
    if sys.platform.startswith("linux") and not backend and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return None  # no display: skip the pyplot import altogether
    try:
        import matplotlib.pyplot as plt

        name = plt.get_backend().lower()
    except Exception:  # the backend asked for cannot start here
        return None
    interactive = {"macosx", "qtagg", "qt5agg", "gtk3agg", "gtk4agg", "gtk3cairo",
                   "gtk4cairo", "tkagg", "tkcairo", "wxagg", "wx", "qtcairo", "qt5cairo"}
    return plt if name in interactive else None


# ---------------------------------------------------------------------------
# Writing results. Everything a run writes goes into a scratch folder beside
# the results first; only when the whole run has succeeded is each file moved
# into place with os.replace (atomic per file), with Ctrl-C and SIGTERM held
# back meanwhile. An interrupted or failed run leaves the previous checkpoint,
# figures and metrics exactly as they were.
# ---------------------------------------------------------------------------
class Staging:
    PREFIX = ".sine_wave-"

    def __init__(self, out):
        self.out = out
        _remove_stale_staging(out)
        self.dir = tempfile.mkdtemp(prefix=f"{self.PREFIX}{os.getpid()}-", dir=out)

    def path(self, name):
        return os.path.join(self.dir, name)

    def commit(self):
        """Move every staged file into `out`; return their new paths."""
        # The checkpoint's .index goes last: it is what --restore looks for,
        # so the new data file is in place before the index that points at it.
        names = sorted(os.listdir(self.dir), key=lambda n: (n.endswith(".index"), n))
        with _folder_locked(self.out), _signals_held():
            for name in names:
                os.replace(self.path(name), os.path.join(self.out, name))
        return [os.path.join(self.out, n) for n in names]

    def discard(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def _remove_stale_staging(out):
    """Remove scratch folders left by runs that were killed (kill -9, power cut)."""
    for name in os.listdir(out):
        match = re.fullmatch(re.escape(Staging.PREFIX) + r"(\d+)-\w+", name)
        if match and not _process_alive(int(match[1])):
            shutil.rmtree(os.path.join(out, name), ignore_errors=True)


def _process_alive(pid):
    if os.name == "nt":
        return True  # os.kill(pid, 0) would signal it there: leave the folder be
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but not ours to signal
    return True


@contextlib.contextmanager
def _folder_locked(path):
    """One run at a time moves its files into `path`, so two runs into the same
    folder cannot leave one's checkpoint index beside the other's data."""
    try:
        import fcntl
    except ImportError:  # not on Windows; there the replace stays per file
        yield
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # an advisory lock on the folder itself: no lock file
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM until the block ends (where the OS allows)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def write_predictions(path, x, train_target, train_outs, test_target, test_outs, n_steps):
    """Both halves as CSV, every value written exactly (repr round-trips)."""
    with open(path, "w") as f:
        f.write("x,half,target,prediction\n")
        halves = (("train", x[:n_steps], train_target, train_outs),
                  ("test", x[n_steps:2 * n_steps], test_target, test_outs))
        for half, xs, target, outs in halves:
            for xi, t, p in zip(xs, np.ravel(target), np.ravel(outs)):
                f.write(f"{float(xi)!r},{half},{float(t)!r},{float(p)!r}\n")


# ---------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, exit status 2: no usage block to scroll past.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _whole_number(minimum, maximum=None):
    allowed = f"a whole number >= {minimum}" if maximum is None else f"a whole number from {minimum} to {maximum}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}")
        return value

    return parse


def make_parser():
    p = _Parser(
        prog=PROG,
        description="Train the LSTM of 'TensorFlow and Recurrent Neural Networks' (2016) to "
        "predict a bell-modulated sine wave, and save its figures, checkpoint and metrics.",
        epilog="examples: python sine_wave.py | python sine_wave.py --restore | "
        "python sine_wave.py --lr-schedule stepped --out stepped",
    )
    p.add_argument("--epochs", metavar="N", type=_whole_number(0), default=epochs,
                   help="full-sequence training updates; 0 plots and saves the untrained network (default: %(default)s)")
    # 4096 units already make 67 million weights (and twice that in Adam's
    # moments); a larger number is far more likely a typo than a plan.
    p.add_argument("--hidden", metavar="N", type=_whole_number(1, 4096), default=num_hidden,
                   help="LSTM units, the post's num_hidden, 1 to 4096 (default: %(default)s)")
    p.add_argument("--seq-width", metavar="N", type=_whole_number(1), default=seq_width,
                   help="values in each input window, the post's seq_width (default: %(default)s)")
    p.add_argument("--lag", metavar="N", type=_whole_number(0), default=lag,
                   help="how many steps past the window's end the target lies (default: %(default)s)")
    p.add_argument("--seed", metavar="N", type=_whole_number(0, 2**32 - 1), default=seed,  # NumPy's seed range
                   help="random seed; the same seed prints the same log (default: %(default)s)")
    p.add_argument("--lr-schedule", choices=sorted(LR_SCHEDULES), default="as-written",
                   help="'as-written': what the post's if/elif chain does when run (1e-2, then 5e-3 after "
                   "epoch 25); 'stepped': what it was meant to do (1e-2, 5e-3, 1e-4, 1e-5 after epochs "
                   "25, 50, 75) (default: %(default)s)")
    p.add_argument("--out", metavar="DIR", default=out_dir,
                   help="folder for figures, checkpoint, predictions and metrics (default: %(default)s)")
    p.add_argument("--no-show", action="store_true",
                   help="never open figure windows (they are only opened where a display is available)")
    p.add_argument("--restore", action="store_true",
                   help="load the saved checkpoint instead of training, and predict with it")
    p.add_argument("--no-xla", action="store_true",
                   help="run the training step as a plain tf.function instead of compiling it with XLA")
    return p


def parse_args(argv=None):
    p = make_parser()
    args = p.parse_args(argv)
    length = len(gen_seq()[0])
    n_steps = length // 2
    # The first test target, y[n_steps + seq_width + lag], must be inside the
    # sequence, or the test half has nothing real to predict.
    most = length - n_steps - 1
    if args.lag + args.seq_width > most:
        p.error(f"argument --lag/--seq-width: --lag {args.lag} plus --seq-width {args.seq_width} is "
                f"{args.lag + args.seq_width}; at most {most} leaves the test half a real target")
    if not args.out:
        p.error("argument --out: expected a folder name, got ''")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        p.error(f"argument --out: {args.out!r} is a file, not a folder")
    # --restore with no folder is a missing checkpoint, reported as such later;
    # a training run makes the folder now, so a bad path fails before any work.
    if os.path.isdir(args.out) or not args.restore:
        problem = _writable_folder(args.out)
        if problem:
            p.error(f"argument --out: cannot write to {args.out!r} ({problem})")
    return args


def _writable_folder(path):
    """None if `path` is (or can be made) a folder we can write in, else why not."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


# ---------------------------------------------------------------------------
# The run: the post's story, step by step.
# ---------------------------------------------------------------------------
class Interrupted(BaseException):
    """Ctrl-C or SIGTERM. A BaseException, like KeyboardInterrupt, so that no
    `except Exception` on the way (TensorFlow's import, a checkpoint read) can
    mistake it for a failure of its own."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def seed_everything(value):
    """Python, NumPy and TensorFlow from one seed, and deterministic TF ops."""
    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(value)
    tf.config.experimental.enable_op_determinism()


def run(args, progress, log=print):
    """The whole job; `progress["epoch"]` tells how far it got."""
    started = time.perf_counter()
    prefix = checkpoint_prefix(args.out, args.hidden, args.seq_width)
    hint = f"python sine_wave.py --out {shlex.quote(args.out)} --hidden {args.hidden} --seq-width {args.seq_width}"
    if args.restore:
        require_checkpoint(prefix, hint)  # before the seconds TensorFlow takes to load
    tf = import_tensorflow()
    seed_everything(args.seed)
    jit = not args.no_xla
    staging = Staging(args.out)
    figures = Figures(staging.dir, show=not args.no_show)
    try:
        # 1. The sequence.
        x, y = gen_seq()
        n_steps = len(x) // 2  # the post's len(x)/2 was Python 2 integer division
        figures.draw("sequence.png", plot_sequence, x, y)
        figures.show()

        # 2-3. Inputs, targets, the network and its checkpoint.
        train_input, train_target = gen_inputs(y, n_steps, 0, args.seq_width, args.lag)
        test_input, test_target = gen_inputs(y, n_steps, n_steps, args.seq_width, args.lag)
        network = build_network(args.hidden, args.seq_width, args.seed)
        optimizer = build_optimizer(network)
        ckpt = make_checkpoint(network, optimizer)
        predict = make_predict(network, jit_compile=jit)
        train_in, train_tg, test_in = (tf.constant(a, tf.float32) for a in (train_input, train_target, test_input))

        if args.restore:
            restore_checkpoint(ckpt, prefix, hint)
            log(f"Restored {prefix}")
            errors = []
        else:
            # 4. The untrained network's output.
            net_outs = predict(train_in).numpy()
            figures.draw("sequence-and-network-output.png", plot_untrained,
                         x[:n_steps], train_target, net_outs, figsize=WIDE)
            figures.show()

            # 5. Training.
            train_step = make_train_step(network, optimizer, jit_compile=jit)
            errors = train(train_step, optimizer, train_in, train_tg, args.epochs,
                           args.lr_schedule, log, progress)
            ckpt.write(staging.path(os.path.basename(prefix)))
            figures.draw("training-error.png", plot_training_error, errors)

        # 6-7. Predictions on both halves; the test half from the *test* inputs.
        train_outs = predict(train_in).numpy()
        test_outs = predict(test_in).numpy()
        figures.draw("training-complete.png", plot_training_complete,
                     x[:n_steps], train_target, train_outs,
                     x[n_steps:2 * n_steps], test_target, test_outs, figsize=WIDE)

        n_real = real_target_count(n_steps, n_steps, args.seq_width, args.lag, len(y))
        final_error = float(error(train_outs, train_target))
        metrics = {
            "train_error": errors[-1] if errors else final_error,
            "final_train_error": final_error,
            "test_rmse": rmse_on_test_half(test_outs, train_input, train_target, test_input, test_target, n_real),
            "test_positions": n_real,
            "epochs": len(errors),
            "restored": bool(args.restore),
            "options": {"hidden": args.hidden, "seq_width": args.seq_width, "lag": args.lag,
                        "seed": args.seed, "lr_schedule": args.lr_schedule, "xla": jit},
        }
        log_metrics(metrics, log)
        with open(staging.path("metrics.json"), "w") as f:
            json.dump(metrics, f, indent=2)
            f.write("\n")
        write_predictions(staging.path("predictions.csv"), x, train_target, train_outs,
                          test_target, test_outs, n_steps)
        figures.wait()
        written = staging.commit()
    finally:
        figures.close()
        staging.discard()

    for path in written:
        log(f"Wrote {path}")
    figures.show()
    timing = f"Finished in {time.perf_counter() - started:.1f} s"
    if errors:
        first, *rest = progress["seconds"]
        timing += f": the first epoch {first:.2f} s (tracing and compiling the step)"
        if rest:
            timing += f", then {1000 * float(np.median(rest)):.1f} ms per epoch (median)"
    log(timing)
    return metrics


def log_metrics(metrics, log=print):
    names = {"lstm": "LSTM (this network)", "zero": "always zero",
             "last_value": "last value of the window", "linear": "linear map, least squares"}
    if metrics["epochs"]:
        which = "last epoch"
    else:
        which = "restored network" if metrics["restored"] else "untrained network"
    log("")
    log(f"Training error (the post's sqrt of sum of squares), {which}: {metrics['train_error']:.5f}")
    log(f"Test RMSE over the {metrics['test_positions']} test positions with a real target:")
    for key, label in names.items():
        log(f"  {label:<28}{metrics['test_rmse'][key]:>9.5f}")
    log("")


def say(line):
    """Print a line of the log at once, even into a pipe or a file."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        # The reader went away (`| head`): finish the run and save its results
        # anyway, writing the rest of the log nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv=None):
    args = parse_args(argv)
    # Ctrl-C and SIGTERM end the run through one path (below) that discards
    # what this run staged and leaves earlier results alone.
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    progress = {"epoch": None, "of": args.epochs}
    try:
        run(args, progress, log=say)
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.status
    except Diverged as exc:
        print(f"{PROG}: error: {exc}; training stopped, no checkpoint written", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk, a folder removed or locked mid-run
        print(f"{PROG}: error: cannot write the results to {args.out}: {exc}; earlier results "
              "there are untouched", file=sys.stderr)
        return 1
    except Interrupted as exc:
        epoch = progress["epoch"]
        where = "" if epoch is None else f" at epoch {epoch} of {progress['of']}"
        print(f"{PROG}: interrupted by {signal.Signals(exc.signum).name}{where}; nothing written, "
              f"earlier results in {args.out} untouched", file=sys.stderr)
        return 128 + exc.signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


if __name__ == "__main__":
    status = main()
    # Everything is written, closed and flushed by now. Python's teardown of
    # TensorFlow (thousands of modules, its thread pools) takes about a second
    # and does nothing a finished run needs: leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
