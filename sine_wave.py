"""TensorFlow and Recurrent Neural Networks (Maksim An, 2016-03-10), on today's TensorFlow.

The post's six code blocks in its order, under its names, computing what TF 0.7 computed; below the
fence, what the post does not have. README.md maps each block and lists every difference.
`# fmt: skip` and `# fmt: off` keep the post's spelling (`-.1`, `5.`, `'lr'`) from the formatter.
"""

import math

import numpy as np

# Settings: the post's numbers. The command line overrides each (python sine_wave.py --help).
num_hidden = 10  # number of hidden units in RNN
seq_width = 10  # sequence width: values in each input window
lag = 60  # the target lies `lag` steps past the window's end
epochs = 100  # for i in range(100)
seed = 20160310  # not in the post: its date; same seed, same log

tf = plt = None  # import tensorflow as tf; import matplotlib.pylab as plt: below the fence


# --- Post block 1: "Feeding a random sequence might not be very interesting, so lets generate one"
def gen_seq():
    x = np.arange(0.0, np.pi * 12, 0.03)
    # bell = exp(-(sin(x - pi/2) - 2 pi)^2 / 9); y = 100 sin(8x) bell
    bell = np.exp(-((np.sin(x - np.pi / 2) - 2 * np.pi) ** 2) / 9.0)
    y = 100 * np.sin(8 * x) * bell
    y = np.reshape(y, (len(y), 1))
    return x, y  # the post plotted here too; plot_sequence does (README: differences)


def plot_sequence(ax, x, y):
    ax.plot(x, y, "b-", label="y = 100 sin(8x) exp(-(sin(x - pi/2) - 2 pi)^2 / 9)")
    ax.set_title("The sequence: a sine wave under a repeating bell")


# --- Post block 2: "lets build our own TensorFlow computation graph"
# Reordered: block 5's read-out W, b is built here, as block 4 needs the output.
class LSTMCell:
    """TF 0.7's rnn_cell.LSTMCell(num_hidden, seq_width, initializer=initializer)."""

    def __init__(self, num_hidden, seq_width, initializer):
        # One [input, h_prev] matrix for gates i, j, f, o; a zero bias; 0.7's names (docs/tf07.md)
        shape = [seq_width + num_hidden, 4 * num_hidden]
        self.W = tf.Variable(initializer(shape), name="RNN/LSTMCell/W_0")
        self.B = tf.Variable(tf.zeros([4 * num_hidden]), name="RNN/LSTMCell/B")
        self.num_hidden = num_hidden

    def zero_state(self):
        """cell.zero_state(1, tf.float32): c and h, both zeros."""
        return tf.zeros([1, self.num_hidden]), tf.zeros([1, self.num_hidden])


def rnn(cell, inputs, initial_state):
    """rnn(cell, inputs, initial_state): the cell over the steps in order; each step's h."""
    # Read once, outside the loop: its gradient keeps no copy per step (docs/performance.md)
    W, B = tf.convert_to_tensor(cell.W), tf.convert_to_tensor(cell.B)
    W_x, W_h = W[: inputs.shape[1]], W[inputs.shape[1] :]
    # [x, h] @ W + B = (x @ W_x + B) + h @ W_h: the input part for every step in one product
    from_inputs = inputs @ W_x + B

    def step(t, c, h, outputs):
        i, j, f, o = tf.split(from_inputs[t][None] + h @ W_h, 4, axis=1)
        # c = sig(f + 1) c + sig(i) tanh(j); h = sig(o) tanh(c); the + 1 is 0.7's forget bias
        c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
        h = tf.sigmoid(o) * tf.tanh(c)
        return t + 1, c, h, outputs.write(t, h[0])

    n_steps = inputs.shape[0]
    start = (0, *initial_state, tf.TensorArray(tf.float32, size=n_steps))
    # maximum_iterations: XLA needs the loop's length to differentiate it
    loop = tf.while_loop(lambda t, *_: t < n_steps, step, start, maximum_iterations=n_steps)
    return loop[3].stack()


class Network:
    """The post's graph: the half as ONE sequence (batch 1) through the cell, then W and b."""

    def __init__(self, num_hidden=num_hidden, seq_width=seq_width, seed=seed):
        initializer = tf.random_uniform_initializer(-.1, .1, seed=seed)  # fmt: skip
        self.cell = LSTMCell(num_hidden, seq_width, initializer)
        # 0.7's tf.get_variable default, uniform_unit_scaling: U(+-sqrt(3 / fan_in)); b is random
        rng = np.random.default_rng(seed)
        w_scale, b_scale = math.sqrt(3.0 / num_hidden), math.sqrt(3.0)
        W = rng.uniform(-w_scale, w_scale, (num_hidden, 1)).astype(np.float32)
        self.W = tf.Variable(W, name="W")
        self.b = tf.Variable(rng.uniform(-b_scale, b_scale, (1,)).astype(np.float32), name="b")
        self.trainable_variables = [self.cell.W, self.cell.B, self.W, self.b]

    def __call__(self, seq_input):
        """[n_steps, seq_width] -> [n_steps, 1]: the post's `output`."""
        outputs = rnn(self.cell, seq_input, initial_state=self.cell.zero_state())
        return outputs @ self.W + self.b


# --- Post block 3: "Our goal is to make a prediction what is the value going to be in lag steps,
# based on seq_width number of previous steps"
def gen_inputs(y, n_steps, offset, seq_width=seq_width, lag=lag):
    y = np.ravel(y)  # with the post's (N, 1) y the padded list is ragged (README: differences)
    seq_input = []
    seq_target = []

    for i in range(offset, offset + n_steps):
        window = []
        for j in range(seq_width):
            if i + j < len(y):
                window.append(y[i + j])
            else:
                window.append(0)
        seq_input.append(window)
        if i + lag + seq_width < len(y):
            seq_target.append(y[i + lag + seq_width])
        else:
            seq_target.append(0)

    seq_input = np.reshape(np.array(seq_input), (-1, seq_width))
    seq_target = np.reshape(np.array(seq_target), (-1, 1))

    return seq_input, seq_target


# --- Post block 4: "Lets generate inputs and targets and feed them to our rnn" (in run())
def plot_untrained(ax, x, train_target, net_outs):
    ax.plot(x, train_target, "b-", label="target (training half)")
    ax.plot(x, net_outs, "r-", label="untrained network's output")
    ax.set_title("Before training")


# --- Post block 5: "Now let's add some train ops."
def make_train_op(net, optimizer, xla=True):
    """session.run([error, output, train_op]): one update; error and output from before it."""
    tvars = net.trainable_variables  # tf.trainable_variables()

    @tf.function(jit_compile=xla, autograph=False)
    def train_op(seq_input, seq_target):
        # error = sqrt(sum((output - target)^2)), the L2 norm of the residual; the tape gives
        # tf.gradients(error, tvars)
        # fmt: off
        with tf.GradientTape() as tape:
            output = net(seq_input)
            error = tf.pow(tf.reduce_sum(tf.pow(tf.subtract(output, seq_target), 2)), .5)
        grads, _ = tf.clip_by_global_norm(tape.gradient(error, tvars), 5.)
        # fmt: on
        optimizer.apply_gradients(zip(grads, tvars))
        return error, output

    return train_op


# --- Post block 6: "Now lets run training for 100 epochs"
def plot_training_complete(ax, x, n_steps, train_target, train_outs, test_target, test_outs):
    x_test = x[n_steps : 2 * n_steps]
    ax.plot(x[:n_steps], train_target, "b-", label="target")
    ax.plot(x[:n_steps], train_outs, "g--", label="output, training half")
    ax.plot(x_test, test_outs, "r--", label="output, test half (y repeats: near the first)")
    ax.plot(x_test, test_target, "b-")
    ax.axvline(x_test[0], color="0.6", linewidth=0.8)
    ax.set_title("After training: the training half, then the test half")


def run(args, out):
    """The post, start to finish; `out` (below the fence) keeps each file until all move in."""
    xla = not args.no_xla
    # Post block 2: import tensorflow as tf, then x, y = gen_seq() (block 1), which plotted it
    load_tensorflow(xla)
    x, y = gen_seq()
    with out.figure("sequence.png") as ax:
        plot_sequence(ax, x, y)
    plt.show()
    n_steps = len(x) // 2  # the post's len(x)/2 was Python 2's integer division
    net = Network(args.hidden, args.seq_width, args.seed)

    # Post block 4: inputs and targets of the training half (block 3's gen_inputs), the output
    train_input, train_target = gen_inputs(y, n_steps, 0, args.seq_width, args.lag)
    # tf.initialize_all_variables() and tf.Session(): not needed, a TF 2 variable is ready
    feed = tf.constant(train_input, tf.float32), tf.constant(train_target, tf.float32)
    output = tf.function(net, jit_compile=xla, autograph=False)  # session.run(output, feed)
    if args.restore:  # the author's is_training = False: the checkpoint's weights, no training
        restore(checkpoint(net, args), args)
    else:
        net_outs = output(feed[0]).numpy()
        with out.figure("sequence-and-network-output.png", figsize=(12, 7)) as ax:  # post's size
            plot_untrained(ax, x[:n_steps], train_target, net_outs)
        plt.show()

        # Post block 5: the train ops
        lr = tf.Variable(0., trainable=False, name='lr')  # fmt: skip
        optimizer = tf.compat.v1.train.AdamOptimizer(lr)
        train_op = make_train_op(net, optimizer, xla)

        # Post block 6: 100 epochs, then the checkpoint
        saver = checkpoint(net, args, optimizer)  # saver = tf.train.Saver()
        for i in range(args.epochs):
            new_lr = 1e-2
            if i > 25:
                new_lr = 5e-3
            elif i > 50:  # never runs, nor the next: i > 50 took `if i > 25` (README: differences)
                new_lr = 1e-4
            elif i > 75:
                new_lr = 1e-5
            if args.lr_schedule == "stepped":  # not in the post: what the chain meant
                new_lr = 1e-5 if i > 75 else 1e-4 if i > 50 else 5e-3 if i > 25 else 1e-2

            lr.assign(new_lr)  # session.run(tf.assign(lr, new_lr))

            err, net_outs = train_op(*feed)
            print('Epoch %d: %1.5f' % (i, err))  # fmt: skip
            out.epoch(i, err, net_outs)  # not in the post: stop on a NaN; --animate's frames
        out.save(saver, checkpoint_name(args))  # saver.save(..., global_step=0)

    # Post block 6, continued: the trained network on both halves
    train_outs = output(feed[0]).numpy()
    test_input, test_target = gen_inputs(y, n_steps, n_steps, args.seq_width, args.lag)
    # the post ran `feed` here, not test_fed (README: differences)
    test_outs = output(tf.constant(test_input, tf.float32)).numpy()
    with out.figure("training-complete.png", figsize=(12, 7)) as ax:
        plot_training_complete(ax, x, n_steps, train_target, train_outs, test_target, test_outs)

    # Not in the post: how good is it; then every file into place at once
    train, test = (train_input, train_target, train_outs), (test_input, test_target, test_outs)
    out.finish(x, y, train, test)
    plt.show()


# ==================================================================================================
# Everything the post does not have: the plumbing, below this fence.
# ==================================================================================================
import argparse
import contextlib
import csv
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

MAX_HIDDEN = 1024  # the largest tried; at 2048 the first gradient overflows (docs/performance.md)
SCHEDULES = ("as-written", "stepped")
# The settings a checkpoint keeps: name -> (lowest, highest or None)
LIMITS = {
    "hidden": (1, MAX_HIDDEN),
    "seq_width": (1, None),
    "lag": (0, None),
    "seed": (0, 2**32 - 1),
    "epochs": (0, None),
}
SETTINGS = (*LIMITS, "lr_schedule")
SIGNALS = [getattr(signal, s) for s in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, s)]
MASKABLE = hasattr(signal, "pthread_sigmask")  # not on Windows (docs/robustness.md)
# All a run can write but its checkpoint; one a run does not write, an earlier run's, goes
RESULTS = ["sequence.png", "sequence-and-network-output.png", "training-complete.png"]
RESULTS += ["training-error.png", "training.gif", "metrics.json", "predictions.csv"]


class UserError(Exception):
    """A problem the user can fix: (message, exit status=1)."""


def first_line(exc):  # "ValueError: its message's first line"
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"


# --- A quiet console
# TF's lines on a CPU-only machine at any TF_CPP_MIN_LOG_LEVEL; XLA's after a bad XLA_FLAGS value
TF_NOISE = (
    r"All log messages before absl::InitializeLog|oneDNN custom operations"
    r"|Could not find cuda drivers|failed call to cuInit|cpu_feature_guard"
    r"|To enable the following instr|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered|TF-TRT Warning|XLA service .* initialized"
    r"|StreamExecutor (device )?[\[(]\d+[\])]: Host|Compiled cluster using XLA|Flag parsing failed"
    r"|^mkdir -p failed for path .*matplotlib"  # Matplotlib's next line says what it did
)
# A helper process forwards the rest as it comes (a message outlives TF ending the process), and
# drops XLA's list of every flag, which follows its one line on a bad one
FILTER = """import re, sys
usage = False
for line in sys.stdin.buffer:
    text = line.decode(errors="replace")
    usage = usage or text.startswith("usage: ")
    if text.strip() and not usage and not re.search(sys.argv[1], text):
        sys.stderr.buffer.write(line)
        sys.stderr.buffer.flush()
"""
XLA_COPY_FLAG = "--xla_cpu_copy_insertion_use_region_analysis=true"  # docs/performance.md


@contextlib.contextmanager
def quiet_stderr():
    """File descriptor 2 (TF's C++ lines) through FILTER."""
    sys.stderr.flush()
    # A session of its own: a terminal's Ctrl-C reaches the script alone
    filter = [sys.executable, "-I", "-S", "-c", FILTER, TF_NOISE]
    try:
        child = subprocess.Popen(filter, stdin=subprocess.PIPE, start_new_session=True)
    except OSError as exc:  # a process limit, say
        raise UserError(f"cannot start the stderr filter: {exc.strerror or exc}") from None
    saved = os.dup(2)
    os.dup2(child.stdin.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        child.stdin.close()
        child.wait()


def load_tensorflow(xla=False):
    """`import tensorflow as tf`, once; with `xla`, XLA started with XLA_COPY_FLAG."""
    global tf
    if tf is not None:
        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # errors only: the script reports failures
    before = os.environ.get("XLA_FLAGS")
    try:
        import tensorflow
    except Exception as exc:  # ImportError, or a broken install's
        raise UserError(
            f"cannot import TensorFlow ({first_line(exc)}); pip install -r requirements.txt"
        ) from None
    # XLA reads XLA_FLAGS once, at its first compile; TF < 2.19 ends the process on this flag
    version = tuple(map(int, tensorflow.__version__.split(".")[:2]))
    if xla and version >= (2, 19) and "region_analysis" not in (before or ""):
        os.environ["XLA_FLAGS"] = f"{before or ''} {XLA_COPY_FLAG}"
    try:
        if xla:
            tensorflow.function(lambda: tensorflow.ones(1) + 1, jit_compile=True, autograph=False)()
    finally:  # the user's XLA_FLAGS again, for what this process starts
        os.environ.pop("XLA_FLAGS", None)
        if before is not None:
            os.environ["XLA_FLAGS"] = before
    tensorflow.config.experimental.enable_op_determinism()
    tensorflow.get_logger().setLevel("ERROR")  # no "retracing" warning at a notebook's fifth %run
    tf = tensorflow
    return tf


# --- Figures
def load_pyplot(show):
    global plt
    try:
        import matplotlib

        if not show:
            matplotlib.use("agg")
        import matplotlib.pyplot as plt

        plt.switch_backend(matplotlib.get_backend())  # loaded now: one it cannot start fails here
    except Exception as exc:  # a bad MPLBACKEND, say, or TkAgg with no display
        raise UserError(f"cannot load Matplotlib ({first_line(exc)})") from None


def plot_training_error(ax, errors):
    ax.semilogy(errors, "b.-", label="error = sqrt(sum((output - target)^2))")
    title = f"Training error per epoch, {len(errors)} epochs"
    ax.set(title=title, xlabel="epoch", ylabel="error (log scale)")
    ax.yaxis.set_major_formatter("{x:g}")  # 40, not 4 x 10^1
    ax.yaxis.set_minor_formatter("{x:g}")


def animate_training(path, x, train_target, frames):
    """training.gif: the output against the target, one frame every few epochs."""
    from matplotlib.animation import PillowWriter
    from matplotlib.figure import Figure

    x = x[: len(train_target)]
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(x, train_target, "b-", label="target")
    (line,) = ax.plot(x, frames[0][1], "g--", label="output")
    ax.set(xlabel="x", ylabel="y")
    ax.legend(loc="upper right")
    with PillowWriter(fps=8).saving(fig, path, dpi=80) as writer:
        for i, net_outs in frames:
            line.set_ydata(net_outs)
            ax.set_title(f"Training, epoch {i}")
            writer.grab_frame()


# --- Signals: one mechanism
class Signals:
    """SIGINT, SIGTERM and SIGHUP while main runs: each kept; the first raises KeyboardInterrupt."""

    after = None  # the handlers after main: those from before it, or this one

    def __enter__(self):
        self.caught, self.previous = [], {}
        for s in SIGNALS:
            if signal.getsignal(s) != signal.SIG_IGN:  # one ignored at the start stays so (nohup)
                self.previous[s] = signal.signal(s, self.on_signal)
        self.hook, sys.unraisablehook = sys.unraisablehook, self.unraisable
        return self

    def on_signal(self, signum, frame):
        self.caught.append(signum)
        held = MASKABLE and signum in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        if len(self.caught) == 1 and not held:  # held: in blocked(), another thread took it (TF's)
            raise KeyboardInterrupt

    def check(self):  # one kept, not raised (held, or lost in a finalizer): raise it now
        if self.caught:
            raise KeyboardInterrupt

    def unraisable(self, info):  # what Python drops, raised in a finalizer: `caught` keeps it
        if not isinstance(info.exc_value, KeyboardInterrupt):
            self.hook(info)

    @contextlib.contextmanager
    def blocked(self):
        """Signals wait until the block is done (one another thread takes is kept, not raised)."""
        if not MASKABLE:
            yield
            return
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            yield
        finally:  # one that waited raises now, if it is the first
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def __exit__(self, *exc):
        with contextlib.suppress(KeyboardInterrupt), self.blocked():
            for s, handler in self.previous.items():
                signal.signal(s, handler if self.after is None else self.after)
            sys.unraisablehook = self.hook


# --- Safe saving: all or nothing
@contextlib.contextmanager
def locked(folder):
    """One run at a time moves files into `folder` (Windows: no lock, docs/robustness.md)."""
    if os.name == "nt":
        yield
        return
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # the lock with it


def is_file(path):  # not a folder or a link
    return os.path.isfile(path) and not os.path.islink(path)


class Output:
    """Each file into a scratch folder in --out, all moved in once the run succeeds."""

    def __init__(self, args):
        self.args, self.signals, self.dir, self.committed = args, None, None, False
        self.names, self.errors, self.frames = [], [], []

    @contextlib.contextmanager
    def writing(self):
        try:
            yield
        except (OSError, tf.errors.OpError) as exc:  # a full disk, --out removed mid-run
            # TF's own text has a {{node ...}} prefix
            reason = getattr(exc, "strerror", None) or first_line(exc).split("}} ")[-1]
            raise UserError(f"cannot write the results to {self.args.out!r}: {reason}") from None

    def path(self, name):
        if self.dir is None:  # at the first file, after TF (which can end the process) loaded
            out = self.args.out
            # TF's longest: NAME_temp/part-00000-of-00001.data-00000-of-00001.tempstate + 20 digits
            longest = checkpoint_name(self.args) + "-" * 75
            try:
                os.makedirs(out, exist_ok=True)
                self.dir = tempfile.mkdtemp(prefix=".sine_wave-", dir=out)
                open(self.path(longest), "w").close()
                os.remove(self.path(longest))
            except OSError as exc:
                reason = exc.strerror or exc
                raise UserError(f"argument --out: cannot write to {out!r} ({reason})", 2) from None
        return os.path.join(self.dir, name)

    @contextlib.contextmanager
    def figure(self, name, figsize=(8, 6)):
        fig = plt.figure(num=name, figsize=figsize, clear=True)
        ax = fig.subplots()
        yield ax  # the caller draws; then the labels, the legend and the file
        ax.set(xlabel=ax.get_xlabel() or "x", ylabel=ax.get_ylabel() or "y")
        fig.legend(loc="lower center", ncols=4, frameon=False)
        w, h = figsize  # margins in inches: a layout engine is slower (docs/performance.md)
        fig.subplots_adjust(0.8 / w, 1 / h, 1 - 0.3 / w, 1 - 0.45 / h)
        with self.writing():
            fig.savefig(self.path(name), dpi=100)
        if plt.get_backend().lower() == "agg":  # no window will show it: let it go
            plt.close(fig)
        self.names.append(name)

    def epoch(self, i, err, net_outs):
        self.signals.check()
        err = float(err)
        if not math.isfinite(err):
            raise UserError(f"the training error became {err} at epoch {i}; training stopped")
        self.errors.append(err)
        if self.args.animate and (i % 4 == 0 or i == self.args.epochs - 1):
            self.frames.append((i, net_outs.numpy()))

    def save(self, saver, name):
        with self.writing():
            saver.write(self.path(name))
        self.names += [name + ".index", name + ".data-00000-of-00001"]

    def finish(self, x, y, train, test):
        """The error figure, the GIF, the metrics and predictions.csv; then all into --out."""
        if self.errors:
            with self.figure("training-error.png") as ax:
                plot_training_error(ax, self.errors)
        options = {**settings_of(self.args), "restored": self.args.restore}
        metrics = metrics_of(self.errors, {**options, "xla": not self.args.no_xla}, y, train, test)
        print("\n".join(metrics_lines(metrics)))
        with self.writing():
            if self.frames:
                animate_training(self.path("training.gif"), x, train[1], self.frames)
                self.names.append("training.gif")
            Path(self.path("metrics.json")).write_text(json.dumps(metrics, indent=2) + "\n")
            write_predictions(self.path("predictions.csv"), x, train, test)
        self.names += ["metrics.json", "predictions.csv"]
        self.signals.check()  # before the move: nothing written
        gone = self.commit()
        removed = f"; removed an earlier run's {', '.join(gone)}" if gone else ""
        print(f"Wrote {os.path.join(self.args.out, '')}: {', '.join(self.names)}{removed}")
        self.signals.check()  # one held during the move ends the run now, before the windows

    def commit(self):
        """New files in, an earlier run's others out; a failure puts all back; signals wait."""
        out = self.args.out
        names = sorted(self.names, key=lambda n: n.endswith(".index"))  # .index, --restore's, last
        moved = []
        with self.signals.blocked(), self.writing(), locked(out):
            gone = [n for n in RESULTS if n not in names and is_file(os.path.join(out, n))]
            try:
                for name in gone + names:
                    target = os.path.join(out, name)
                    if os.path.lexists(target):
                        if not is_file(target):
                            message = f"argument --out: {target!r} is not a file this script wrote"
                            raise UserError(message + "; move it away", 2)
                        os.replace(target, self.path(name + ".old"))
                    if name in names:
                        os.replace(self.path(name), target)
                        moved.append(target)
            except BaseException:
                for name in gone + names:  # what went in out, what was there back
                    target = os.path.join(out, name)
                    if target in moved:
                        os.remove(target)
                    if os.path.exists(self.path(name + ".old")):
                        os.replace(self.path(name + ".old"), target)
                raise
            self.committed = True
        return gone


# --- Checkpoints and their settings
def settings_of(args):
    return {key: getattr(args, key) for key in SETTINGS}


def settings_problem(s):
    """What is wrong with the settings `s`, or None."""
    for name, (low, high) in LIMITS.items():
        value = s.get(name)
        if type(value) is not int or value < low or value > (value if high is None else high):
            expected = f"{low} to {high}" if high is not None else f"{low} or more"
            return f"argument --{name.replace('_', '-')}: expected {expected}, got {value!r}"
    schedule = s.get("lr_schedule")
    if schedule not in SCHEDULES:
        return f"argument --lr-schedule: expected {' or '.join(SCHEDULES)}, got {schedule!r}"
    length = len(gen_seq()[0])
    most = length - length // 2 - 1  # the first test target y[n_steps + seq_width + lag] must exist
    if s["lag"] + s["seq_width"] > most:
        total = f"--lag {s['lag']} plus --seq-width {s['seq_width']} is {s['lag'] + s['seq_width']}"
        return f"argument --lag/--seq-width: {total}; at most {most} keeps a real test target"
    return None


def checkpoint(net, args, optimizer=None):
    """tf.train.Saver(): the variables under 0.7's names, Adam's state, the run's settings."""
    settings = tf.Variable(json.dumps(settings_of(args), sort_keys=True), trainable=False)
    rnn = tf.train.Checkpoint(LSTMCell=tf.train.Checkpoint(W_0=net.cell.W, B=net.cell.B))
    state = {"optimizer": optimizer} if optimizer else {}
    return tf.train.Checkpoint(RNN=rnn, W=net.W, b=net.b, settings=settings, **state)


def checkpoint_name(args):
    return f"sine-wave-rnn-{args.hidden}-{args.seq_width}-0"


def command(out, hidden, seq_width, lag, **_):
    out = shlex.quote(out)
    return f"python sine_wave.py --out {out} --hidden {hidden} --seq-width {seq_width} --lag {lag}"


def checkpoint_settings(args):
    """The settings --restore loads, each checked, or a UserError saying why not."""
    prefix = os.path.join(args.out, checkpoint_name(args))
    again = f"train it with: {command(**vars(args))}"
    if not os.path.isfile(prefix + ".index"):  # not a FIFO: TensorFlow would wait on it
        there = [repr(p.stem) for p in Path(args.out).glob("sine-wave-rnn-*.index") if p.is_file()]
        if there:  # named by their --hidden and --seq-width
            again = f"{args.out!r} holds {', '.join(sorted(there))}: give --restore those settings"
        raise UserError(f"no checkpoint {prefix + '.index'!r}; {again}")
    if not os.path.isfile(prefix + ".data-00000-of-00001"):
        raise UserError(f"cannot read checkpoint {prefix!r}: no .data file beside it")
    load_tensorflow(not args.no_xla)
    key = "settings/.ATTRIBUTES/VARIABLE_VALUE"
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = reader.get_variable_to_shape_map()
        stored = json.loads(reader.get_tensor(key).decode()) if key in names else None
    except Exception as exc:  # several kinds: a damaged file
        raise UserError(f"cannot read checkpoint {prefix!r}: {first_line(exc)}") from None
    if stored is None or "RNN/LSTMCell/W_0/.ATTRIBUTES/VARIABLE_VALUE" not in names:
        raise UserError(f"checkpoint {prefix!r} is not this version's; {again}")
    # Only the settings it knows, each checked: never --out, --restore or another option
    settings = {key: stored.get(key) for key in SETTINGS} if type(stored) is dict else {}
    if problem := settings_problem(settings):
        raise UserError(f"checkpoint {prefix!r} holds settings this script never writes: {problem}")
    if any(settings[key] != getattr(args, key) for key in ("hidden", "seq_width", "lag")):
        works = f"{command(args.out, **settings)} --restore"
        raise UserError(f"checkpoint {prefix!r} was trained with other settings; use: {works}")
    trained = f"--seed {settings['seed']} --lr-schedule {settings['lr_schedule']} --epochs"
    print(f"Restoring {checkpoint_name(args)}, trained with {trained} {settings['epochs']}")
    return settings


def restore(saver, args):
    """saver.restore(session, ...): the weights, not Adam's state."""
    prefix = os.path.join(args.out, checkpoint_name(args))
    try:
        saver.read(prefix).expect_partial().assert_existing_objects_matched()  # W, b, the cell
    except Exception as exc:
        raise UserError(f"cannot read checkpoint {prefix!r}: {first_line(exc)}") from None


# --- How good is it: the test half against simple predictors
BASELINES = {
    "lstm": "LSTM (this network)",
    "zero": "always zero",
    "last_value": "last value of the window",
    "linear": "linear map, least squares",
}


def metrics_of(errors, options, y, train, test):
    (train_input, train_target, train_outs), (test_input, test_target, test_outs) = train, test
    # Rows with a target in y, not gen_inputs' zeros
    target = np.ravel(test_target)
    n = len(y) - (len(train_input) + options["seq_width"] + options["lag"])
    # Baselines: zero; the window's last value; a least-squares linear map of the window
    ones = np.ones((len(train_input), 1))  # both halves have n_steps rows
    coef = np.linalg.lstsq(np.hstack([train_input, ones]), np.ravel(train_target), rcond=None)[0]
    preds = {"lstm": np.ravel(test_outs), "zero": 0 * target, "last_value": test_input[:, -1]}
    preds["linear"] = np.hstack([test_input, ones]) @ coef
    final_error = float(np.sqrt(np.sum((np.ravel(train_outs) - np.ravel(train_target)) ** 2)))
    return {
        "train_error": errors[-1] if errors else final_error,
        "final_train_error": final_error,
        "test_rmse": {
            k: float(np.sqrt(np.mean((p[:n] - target[:n]) ** 2))) for k, p in preds.items()
        },
        "test_positions": n,
        "epochs": len(errors),
        "options": options,
    }


def metrics_lines(m):
    which = "trained" if m["options"]["epochs"] else "untrained"
    label = f"Training error (the post's sqrt of sum of squares) of the {which} network"
    last = f" (the log's last epoch, {m['train_error']:.5f}, is from before its update)"
    yield f"\n{label}: {m['final_train_error']:.5f}{last if m['epochs'] else ''}"
    yield f"Test RMSE over the {m['test_positions']} test positions with a real target:"
    for key, label in BASELINES.items():
        yield f"  {label:<28}{m['test_rmse'][key]:>9.5f}"
    fit = "each test window nearly repeats a training one, so this measures fit"
    yield f"(y repeats every 2 pi: {fit})\n"


def write_predictions(path, x, train, test):
    """Both halves, each value as Python writes a float (it reads back exactly)."""
    n = len(train[1])
    target = np.concatenate([train[1], test[1]]).ravel().tolist()
    prediction = np.concatenate([train[2], test[2]]).ravel().tolist()
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["x", "half", "target", "prediction"])
        writer.writerows(zip(x[: 2 * n].tolist(), ["train"] * n + ["test"] * n, target, prediction))


# --- The command line and main
def parse_args(argv=None):
    description = "The LSTM of 'TensorFlow and Recurrent Neural Networks'."
    p = argparse.ArgumentParser(prog="sine_wave.py", description=description)
    p.error = lambda message: p.exit(2, f"{p.prog}: error: {message} (see --help)\n")  # one line
    add = p.add_argument
    for name, value, text in [
        ("epochs", epochs, "training updates; 0 saves the untrained network"),
        ("hidden", num_hidden, f"LSTM units, num_hidden, 1 to {MAX_HIDDEN}"),
        ("seq-width", seq_width, "values in each input window, seq_width"),
        ("lag", lag, "steps past the window's end to the target"),
        ("seed", seed, "same seed, same log"),
    ]:
        add(f"--{name}", type=int, default=value, help=f"{text} (%(default)s)")
    schedules = "as-written: 1e-2, then 5e-3, as the post's chain ran; stepped: as it was meant"
    add("--lr-schedule", choices=SCHEDULES, default="as-written", help=schedules)
    add("--out", default="output", help="folder for all the run writes (%(default)s)")
    add("--animate", action="store_true", help="also write training.gif, the output as it trains")
    add("--no-show", action="store_true", help="open no windows (each waits to be closed)")
    add("--restore", action="store_true", help="predict with the saved checkpoint, no training")
    add("--no-xla", action="store_true", help="run the step as a plain tf.function, without XLA")
    args = p.parse_args(argv)
    if problem := settings_problem(settings_of(args)):
        p.error(problem)
    if not args.out or os.path.lexists(args.out) and not os.path.isdir(args.out):
        p.error(f"argument --out: {args.out!r} is not a folder")
    # A newline would break one-line messages; TF needs UTF-8 (surrogates are not printable)
    if not args.out.isprintable():
        p.error(f"argument --out: {ascii(args.out)} has a control character or is not UTF-8")
    for name in "XLA_FLAGS", "TF_XLA_FLAGS":  # XLA takes anything else for a file name
        if os.environ.get(name, "-").strip()[:1] not in "-":
            p.error(f"{name}={os.environ[name]!r} is not flags (--name=value)")
    return args


def report(failure, out, signals):  # the run's error message and exit status
    if signals.caught or isinstance(failure, KeyboardInterrupt):  # whatever else went wrong
        signum, done = (signals.caught or [signal.SIGINT])[0], len(out.errors)
        where = f" after {done} of {out.args.epochs} epochs" if done and not out.committed else ""
        return f"interrupted by {signal.Signals(signum).name}{where}", 128 + signum
    if failure is None:
        return "", 0
    if isinstance(failure, UserError):
        return failure.args[0], failure.args[1] if len(failure.args) > 1 else 1
    if isinstance(failure, (OSError, UnicodeEncodeError)):  # Output's own are UserErrors: the log's
        reason = getattr(failure, "strerror", None) or failure
        return f"cannot write the log to standard output: {reason}", 1
    if not type(failure).__module__.startswith("tensorflow"):
        raise failure  # a bug: its traceback
    hint = "" if out.args.no_xla else "; --no-xla may help"  # an XLA compile failure, say
    return f"TensorFlow failed: {first_line(failure)}{hint}", 1


def main(argv=None):
    """Run the post; return the exit status."""
    args = parse_args(argv)
    out, failure = Output(args), None
    with Signals() as signals:
        try:
            out.signals = signals
            with quiet_stderr():
                if args.restore:  # its settings, in effect from now, before anything is made
                    vars(args).update(checkpoint_settings(args))
                load_pyplot(show=not args.no_show)
                run(args, out)
        except BaseException as exc:  # sorted below, where no signal cuts the sorting short
            failure = exc
        with contextlib.suppress(KeyboardInterrupt), signals.blocked():  # kept, not raised
            if out.dir:  # the scratch folder, and an earlier run's files in it
                shutil.rmtree(out.dir, ignore_errors=True)
        with contextlib.suppress(KeyboardInterrupt), signals.blocked():
            message, code = report(failure, out, signals)
            if out.committed:
                message += f"; the results were already written to {args.out!r}"
            elif out.dir:
                message += f"; nothing written, earlier results in {args.out!r} untouched"
            if code:  # stderr closed or full: the status says it
                with contextlib.suppress(OSError, ValueError):
                    print(f"sine_wave.py: error: {message}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    if "IPython" in sys.modules:  # `%run sine_wave.py`: keep the kernel alive
        if code := main():
            raise SystemExit(code)
    else:
        for fd, name in enumerate(("stdin", "stdout", "stderr")):  # a closed one (`>&-`): /dev/null
            if getattr(sys, name) is None:
                os.dup2(os.open(os.devnull, os.O_RDWR), fd)
                setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))
        sys.stdout.reconfigure(line_buffering=True)  # each log line as it comes, piped too
        Signals.after = signal.SIG_IGN  # nothing cuts the exit short (Python resets its handlers)
        code = main()
        try:
            sys.stdout.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to say there
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        sys.exit(code)
