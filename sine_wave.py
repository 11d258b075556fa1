"""TensorFlow and Recurrent Neural Networks (Maksim An, 2016-03-10), on today's TensorFlow.

The post's six code blocks in its order, under its names, computing what TF 0.7 computed; below
the fence, what the post does not have. README.md maps each block and lists every difference.

    python sine_wave.py    # train, print the log, write output/ (--help: the options)
"""

import math

import numpy as np

# Settings: the post's numbers, each once. The command line overrides the first four and `seed`.
num_hidden = 10      # LSTM units
seq_width = 10       # values in each input window
lag = 60             # the target lies `lag` steps past the window's end
epochs = 100         # for i in range(100)
init_scale = 0.1     # tf.random_uniform_initializer(-.1, .1)
clip_norm = 5.0      # tf.clip_by_global_norm(grads, 5.)
adam_epsilon = 1e-8  # TF 0.7 AdamOptimizer's epsilon; Keras 3 would use 1e-7
seed = 20160310      # the post's date; same seed, same log

# import tensorflow as tf; import matplotlib.pylab as plt: each done once, quietly, below the fence
tf = plt = None


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
# Reordered: block 5's read-out W, b is built here, as block 4 already needs the output.
class LSTMCell:
    """rnn_cell.LSTMCell(num_hidden, seq_width, initializer=initializer) as TF 0.7 had it (no peepholes)."""

    def __init__(self, num_hidden, seq_width, initializer):
        # One matrix over [input, h_prev] for the four gates i, j, f, o, drawn from `initializer`; a zero bias
        self.W = tf.Variable(initializer([seq_width + num_hidden, 4 * num_hidden]), name="LSTMCell/W")
        self.B = tf.Variable(tf.zeros([4 * num_hidden]), name="LSTMCell/B")
        self.num_hidden = num_hidden

    def zero_state(self):
        """cell.zero_state(1, tf.float32): c and h, both zeros."""
        return tf.zeros([1, self.num_hidden]), tf.zeros([1, self.num_hidden])


def rnn(cell, inputs, initial_state):
    """rnn(cell, inputs, initial_state): the cell over the steps in order; each step's h, [n_steps, num_hidden]."""
    # Read once, outside the loop, so the loop's gradient keeps no copy of them per step (docs/performance.md)
    W, B = tf.convert_to_tensor(cell.W), tf.convert_to_tensor(cell.B)
    W_x, W_h = W[: inputs.shape[1]], W[inputs.shape[1]:]
    # [x, h] @ W + B = (x @ W_x + B) + h @ W_h: the input part for every step in one product
    from_inputs = inputs @ W_x + B

    def step(t, c, h, outputs):
        i, j, f, o = tf.split(from_inputs[t][None] + h @ W_h, 4, axis=1)
        # c = sig(f + 1) c + sig(i) tanh(j); h = sig(o) tanh(c); the + 1 is 0.7's built-in forget bias
        c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
        h = tf.sigmoid(o) * tf.tanh(c)
        return t + 1, c, h, outputs.write(t, h[0])

    n_steps = inputs.shape[0]
    start = (0, *initial_state, tf.TensorArray(tf.float32, size=n_steps))
    # maximum_iterations: XLA needs the loop's length to differentiate it
    return tf.while_loop(lambda t, *_: t < n_steps, step, start, maximum_iterations=n_steps)[3].stack()


class Network:
    """The post's graph: the whole half as ONE sequence (batch 1) through the cell, then output = outputs @ W + b."""

    def __init__(self, num_hidden=num_hidden, seq_width=seq_width, seed=seed):
        initializer = tf.random_uniform_initializer(-init_scale, init_scale, seed=seed)
        self.cell = LSTMCell(num_hidden, seq_width, initializer)
        # 0.7's tf.get_variable default, uniform_unit_scaling: U(+-sqrt(3 / fan_in)); so b is random, not zero
        rng = np.random.default_rng(seed)
        w_scale, b_scale = math.sqrt(3.0 / num_hidden), math.sqrt(3.0)
        self.W = tf.Variable(rng.uniform(-w_scale, w_scale, (num_hidden, 1)).astype(np.float32), name="W")
        self.b = tf.Variable(rng.uniform(-b_scale, b_scale, (1,)).astype(np.float32), name="b")
        self.trainable_variables = [self.cell.W, self.cell.B, self.W, self.b]  # tf.trainable_variables()

    def __call__(self, seq_input):
        """[n_steps, seq_width] -> [n_steps, 1]: the post's `output`."""
        outputs = rnn(self.cell, seq_input, initial_state=self.cell.zero_state())
        return outputs @ self.W + self.b


# --- Post block 3: "Our goal is to make a prediction what is the value going to be in lag steps,
# based on seq_width number of previous steps"
def gen_inputs(y, n_steps, offset, seq_width=seq_width, lag=lag):
    # Row k, position i = offset + k: window y[i : i + seq_width], target y[i + seq_width + lag];
    # zeros past the end of y, as the post's loop appended (its ragged list fails in NumPy >= 1.24).
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    padded = np.zeros(max(offset + n_steps + seq_width + lag, len(y)) + 1)
    padded[: len(y)] = y
    windows = np.lib.stride_tricks.sliding_window_view(padded, seq_width)
    seq_input = windows[offset : offset + n_steps].copy()
    seq_target = padded[offset + seq_width + lag : offset + seq_width + lag + n_steps]
    return seq_input, seq_target.reshape(-1, 1)


# --- Post block 4: "Lets generate inputs and targets and feed them to our rnn" (the calls are in run())
def plot_untrained(ax, x, train_target, net_outs):
    ax.plot(x, train_target, "b-", label="target (training half)")
    ax.plot(x, net_outs, "r-", label="untrained network's output")
    ax.set_title("Before training")


# --- Post block 5: "Now let's add some train ops."
def error(output, seq_target):
    # error = sqrt(sum((output - target)^2)): the L2 norm of the residual, not a mean
    return tf.sqrt(tf.reduce_sum(tf.square(output - seq_target)))


def make_train_op(net, optimizer, xla=True):
    """session.run([error, output, train_op]): one update; the error and output are from before it."""
    tvars = net.trainable_variables
    optimizer.build(tvars)  # Adam's moments are made now, not in the first trace (and always saved)

    @tf.function(jit_compile=xla, autograph=False)
    def train_op(seq_input, seq_target):
        with tf.GradientTape() as tape:
            output = net(seq_input)
            err = error(output, seq_target)
        grads, _ = tf.clip_by_global_norm(tape.gradient(err, tvars), clip_norm)
        optimizer.apply_gradients(zip(grads, tvars))
        return err, output

    return train_op


# --- Post block 6: "Now lets run training for 100 epochs"
def learning_rate(i):
    """The post's chain, as written (--lr-schedule as-written)."""
    new_lr = 1e-2
    if i > 25:
        new_lr = 5e-3
    elif i > 50:  # never runs, nor does the next: any i > 50 took `if i > 25` (README: differences)
        new_lr = 1e-4
    elif i > 75:
        new_lr = 1e-5
    return new_lr


def stepped_learning_rate(i):
    """What the chain was meant to do (--lr-schedule stepped)."""
    return 1e-5 if i > 75 else 1e-4 if i > 50 else 5e-3 if i > 25 else 1e-2


LR_SCHEDULES = {"as-written": learning_rate, "stepped": stepped_learning_rate}


def plot_training_complete(ax, x_train, train_target, train_outs, x_test, test_target, test_outs):
    ax.plot(x_train, train_target, "b-", label="target")
    ax.plot(x_train, train_outs, "g--", label="output, training half")
    ax.plot(x_test, test_outs, "r--", label="output, test half (y repeats: a near-copy of the first)")
    ax.plot(x_test, test_target, "b-")
    ax.axvline(x_test[0], color="0.6", linewidth=0.8)
    ax.set_title("After training: the training half, then the test half")


def run(args, out):
    """The post, start to finish. `out` (below the fence) keeps each file, to move all in at the end."""
    xla = not args.no_xla
    # Post block 1: the sequence, shown before TensorFlow loads
    x, y = gen_seq()
    out.figure("sequence.png", plot_sequence, x, y)
    plt.show()

    # Post block 2: the graph
    load_tensorflow(xla)  # import tensorflow as tf
    n_steps = len(x) // 2  # the post's len(x)/2 was Python 2 integer division
    net = Network(args.hidden, args.seq_width, args.seed)

    # Post block 4: inputs and targets of the training half (block 3 defined gen_inputs), and the output
    train_input, train_target = gen_inputs(y, n_steps, offset=0, seq_width=args.seq_width, lag=args.lag)
    # tf.initialize_all_variables() and tf.Session(): not needed, a TF 2 variable is ready when made
    feed = tf.constant(train_input, tf.float32), tf.constant(train_target, tf.float32)
    output = tf.function(net, jit_compile=xla, autograph=False)  # session.run(output, feed_dict=feed)
    if args.restore:  # the author's is_training = False: weights from the checkpoint, no training
        restore(checkpoint(net, args), args, out)
    else:
        net_outs = output(feed[0]).numpy()
        out.figure("sequence-and-network-output.png", plot_untrained, x[:n_steps], train_target, net_outs,
                   figsize=WIDE)
        plt.show()

        # Post block 5: the train ops
        optimizer = tf.keras.optimizers.Adam(learning_rate=0.0, epsilon=adam_epsilon)  # tf.train.AdamOptimizer(lr)
        lr = optimizer.learning_rate  # lr = tf.Variable(0., trainable=False, name='lr'): Adam's own variable
        train_op = make_train_op(net, optimizer, xla)

        # Post block 6: 100 epochs, then the checkpoint
        saver = checkpoint(net, args, optimizer)  # saver = tf.train.Saver()
        with EpochLog(args, out) as log:
            for i in range(args.epochs):
                new_lr = LR_SCHEDULES[args.lr_schedule](i)
                lr.assign(new_lr)  # session.run(tf.assign(lr, new_lr))
                err, net_outs = train_op(*feed)
                log("Epoch %d: %1.5f", i, err, net_outs)  # print('Epoch %d: %1.5f') % (i, err)
        out.save(saver, f"sine-wave-rnn-{args.hidden}-{args.seq_width}-0")  # saver.save(..., global_step=0)

    # Post block 6, continued: the trained network on both halves
    train_outs = output(feed[0]).numpy()
    test_input, test_target = gen_inputs(y, n_steps, offset=n_steps, seq_width=args.seq_width, lag=args.lag)
    test_outs = output(tf.constant(test_input, tf.float32)).numpy()  # the post ran `feed` here (README: differences)
    out.figure("training-complete.png", plot_training_complete, x[:n_steps], train_target, train_outs,
               x[n_steps:2 * n_steps], test_target, test_outs, figsize=WIDE)

    # Not in the post: how good is it; then every file into place at once
    out.finish(x, y, train_input, train_target, train_outs, test_input, test_target, test_outs)
    plt.show()


# ===========================================================================
# Everything the post does not have: the plumbing, below this fence.
# ===========================================================================
import argparse, contextlib, csv, json, os, shlex, shutil, signal, subprocess, sys, tempfile, time  # noqa: E401, E402

WIDE = (12, 7)  # the post's trained-network figures are wide
MAX_HIDDEN = 1024  # above, the first gradient overflows (docs/performance.md)
SIGNALS = [getattr(signal, s) for s in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, s)]


class UserError(Exception):
    """A problem the user can fix: (message, exit status = 1)."""


def first_line(exc):
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def say(line):
    """Print a line of the log at once, even into a pipe or a file."""
    try:
        print(line, flush=True)
    except OSError as exc:  # a full disk, a closed pipe (`| head`)
        raise UserError(f"cannot write the log to standard output: {exc.strerror or exc}") from None


# --- A quiet start-up
# C++ lines TF prints on a CPU-only machine whatever TF_CPP_MIN_LOG_LEVEL says (docs/robustness.md)
TF_NOISE = (r"WARNING: All log messages before absl::InitializeLog\(\)|oneDNN custom operations are on"
            r"|Could not find cuda drivers|failed call to cuInit|cpu_feature_guard"
            r"|To enable the following instructions|Unable to register cu(DNN|FFT|BLAS) factory"
            r"|computation placer already registered|TF-TRT Warning|XLA service .* initialized for platform"
            r"|StreamExecutor (device )?[\[(]\d+[\])]: Host|Compiled cluster using XLA")
# A helper process forwards the rest as it comes: a message survives TF dying mid-start
FILTER = ("import re, sys\nfor line in sys.stdin.buffer:\n"
          "    if line.strip() and not re.search(sys.argv[1], line.decode(errors='replace')):\n"
          "        sys.stderr.buffer.write(line); sys.stderr.buffer.flush()\n")
XLA_COPY_FLAG = "--xla_cpu_copy_insertion_use_region_analysis=true"  # no sequence-long copies (docs/performance.md)


def load_tensorflow(xla=False):
    """`import tensorflow as tf`, once and quietly; with `xla`, XLA's first compile too."""
    global tf
    if tf is not None:
        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # INFO off; warnings, errors on
    os.environ["KERAS_BACKEND"] = "tensorflow"  # for tf.keras's Adam, whatever keras.json says
    flags = os.environ.get("XLA_FLAGS")
    sys.stderr.flush()
    child = subprocess.Popen([sys.executable, "-I", "-S", "-c", FILTER, TF_NOISE], stdin=subprocess.PIPE,
                             start_new_session=True)
    saved = os.dup(2)
    os.dup2(child.stdin.fileno(), 2)
    try:
        try:
            import tensorflow

            tensorflow.config.list_logical_devices()  # device start-up (cuInit) prints here
        except Exception as exc:  # ImportError, or a broken install failing its own way
            raise UserError(f"cannot import TensorFlow ({type(exc).__name__}: {first_line(exc)}); "
                            "install it with: pip install -r requirements.txt") from None
        # XLA reads XLA_FLAGS once; TF < 2.19 aborts on this flag; the user's own setting wins
        v = tuple(map(int, tensorflow.__version__.split(".")[:2]))
        if xla and v >= (2, 19) and "region_analysis" not in (flags or ""):
            os.environ["XLA_FLAGS"] = f"{flags or ''} {XLA_COPY_FLAG}".strip()
        if xla:  # XLA's first compile prints start-up lines too
            tensorflow.function(lambda: tensorflow.constant(1.0) + 1.0, jit_compile=True, autograph=False)()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        child.stdin.close()
        child.wait()
        os.environ.pop("XLA_FLAGS", None) if flags is None else os.environ.update(XLA_FLAGS=flags)
    tensorflow.config.experimental.enable_op_determinism()
    tf = tensorflow
    return tf


# --- Figures
def load_pyplot(show):
    """`import matplotlib.pylab as plt`; without `show`, on a backend that opens no window."""
    global plt
    import matplotlib

    if not show:
        matplotlib.use("agg")
    import matplotlib.pyplot as plt


LEGEND = dict(loc="outside lower center", ncols=4, frameon=False)  # below the axes, off the curves


def plot_training_error(ax, errors):
    ax.semilogy(range(len(errors)), errors, "b.-", label="error = sqrt(sum((output - target)^2))")
    ax.set(title=f"Training error per epoch, {len(errors)} epochs", xlabel="epoch", ylabel="error (log scale)")


def animate_training(path, x, train_target, frames):
    """training.gif: the output against the target, one frame per recorded epoch."""
    from matplotlib.animation import PillowWriter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(x, train_target, "b-", label="target")
    (line,) = ax.plot(x, frames[0][1], "g--", label="output")
    ax.set(xlabel="x", ylabel="y")
    fig.legend(**LEGEND)
    with PillowWriter(fps=8).saving(fig, path, dpi=80) as writer:
        for i, outs in frames:
            line.set_ydata(outs)
            ax.set_title(f"Training, epoch {i}")
            writer.grab_frame()


# --- The training log
class EpochLog:
    """The post's print of each epoch, timed, NaN-checked; after epoch 0, TF's async mode (docs/performance.md)."""

    def __init__(self, args, out):
        self.args, self.out, self.pending, self.last = args, out, None, time.perf_counter()

    def __enter__(self):
        self.out.training, self.was_sync = True, tf.config.experimental.get_synchronous_execution()
        return self

    def __call__(self, line, i, err, net_outs):
        self.flush()
        self.pending = line, i, err, net_outs
        if i == 0:  # it traced and compiled the step: nothing to overlap yet
            self.flush()
            tf.config.experimental.set_synchronous_execution(False)

    def flush(self):
        if self.pending:
            (line, i, err, net_outs), self.pending = self.pending, None
            err, now = float(err), time.perf_counter()
            self.out.seconds.append(now - self.last)
            self.last = now
            if not math.isfinite(err):
                raise UserError(f"the training error became {err} at epoch {i}; training stopped, nothing written")
            if self.args.animate and (i % 4 == 0 or i == self.args.epochs - 1):
                self.out.frames.append((i, net_outs.numpy()))
            self.out.errors.append(err)
            say(line % (i, err))

    def __exit__(self, exc_type, *exc):
        try:
            if exc_type is None:
                self.flush()
                self.out.training = False
        finally:
            tf.config.experimental.set_synchronous_execution(self.was_sync)  # waits for what is queued


# --- Safe saving: all or nothing
def on_signal(signum, frame):
    for s in SIGNALS:  # one message, however often Ctrl-C is pressed
        signal.signal(s, signal.SIG_IGN)
    raise KeyboardInterrupt(signum)


class Output:
    """What a run writes: each file into a scratch folder in --out, all moved in once the run succeeds."""

    def __init__(self, args):
        self.args, self.started, self.committed = args, time.perf_counter(), False
        self.names, self.errors, self.seconds, self.frames = [], [], [], []
        self.training, self.restored_from = False, None
        try:
            os.makedirs(args.out, exist_ok=True)
            self.dir = tempfile.mkdtemp(prefix=".sine_wave-", dir=args.out)
        except OSError as exc:
            raise UserError(f"argument --out: cannot write to {args.out!r} ({exc.strerror or exc})", 2) from None

    def path(self, name):
        return os.path.join(self.dir, name)

    def figure(self, name, plot, *data, figsize=(8, 6)):
        """Draw `name` in pyplot, for the next plt.show(), and save it."""
        fig = plt.figure(num=name, figsize=figsize, clear=True, layout="constrained")
        ax = fig.subplots()
        ax.set(xlabel="x", ylabel="y")
        plot(ax, *data)
        fig.legend(**LEGEND)
        fig.savefig(self.path(name), dpi=100)
        if plt.get_backend().lower() == "agg":  # no window will show it: let it go
            plt.close(fig)
        self.names.append(name)

    def save(self, saver, name):
        try:
            saver.write(self.path(name))
        except Exception as exc:  # TF's own (a full disk: ResourceExhaustedError)
            raise OSError(f"writing the checkpoint failed: {first_line(exc)}") from None
        self.names += [name + ".index", name + ".data-00000-of-00001"]

    def finish(self, x, y, train_input, train_target, train_outs, test_input, test_target, test_outs):
        """The error figure, the GIF and the metrics; then every file into --out."""
        if not self.args.restore:
            self.figure("training-error.png", plot_training_error, self.errors)
        if self.frames:
            animate_training(self.path("training.gif"), x[:len(train_input)], train_target, self.frames)
            self.names.append("training.gif")
        metrics = metrics_of(self, train_input, train_target, train_outs, test_input, test_target, test_outs, y)
        for line in metrics_lines(metrics):
            say(line)
        with open(self.path("metrics.json"), "w") as f:
            f.write(json.dumps(metrics, indent=2) + "\n")
        write_predictions(self.path("predictions.csv"), x, train_target, train_outs, test_target, test_outs)
        self.names += ["metrics.json", "predictions.csv"]
        self.commit(sorted(self.names, key=lambda n: n.endswith(".index")))  # .index, --restore's mark, last
        for name in self.names:
            say(f"Wrote {os.path.join(self.args.out, name)}")
        first, *rest = self.seconds or [None]
        say(f"Finished in {time.perf_counter() - self.started:.1f} s" + (
            f": the first epoch {first:.2f} s (tracing and compiling the step)" if first else "") + (
            f", then {1000 * float(np.median(rest)):.1f} ms per epoch (median)" if rest else ""))

    def commit(self, names):
        """Move `names` in; a failure puts back what was there; a signal waits until every file is in."""
        held, moved = [], []
        handlers = {s: signal.signal(s, lambda signum, _: held.append(signum)) for s in SIGNALS}
        try:
            for name in names:
                target = os.path.join(self.args.out, name)
                if os.path.exists(target):
                    os.replace(target, self.path(name + ".old"))
                os.replace(self.path(name), target)
                moved.append(target)
        except BaseException:
            for name in names:  # what went in out, what was there back
                target = os.path.join(self.args.out, name)
                if target in moved:
                    os.remove(target)
                if os.path.exists(self.path(name + ".old")):
                    os.replace(self.path(name + ".old"), target)
            raise
        finally:
            for s, handler in handlers.items():
                signal.signal(s, handler)
        self.committed = True
        if held:
            on_signal(held[0], None)


# --- Checkpoints and their settings
def settings_of(args):
    return {key: getattr(args, key) for key in ("hidden", "seq_width", "lag", "seed", "lr_schedule")}


def checkpoint(net, args, optimizer=None):
    """tf.train.Saver(): the post's variables under 0.7's names, Adam's state, and the run's settings."""
    settings = tf.Variable(json.dumps({**settings_of(args), "epochs": args.epochs}, sort_keys=True), trainable=False)
    parts = {"LSTMCell": tf.train.Checkpoint(W=net.cell.W, B=net.cell.B), "W": net.W, "b": net.b}
    return tf.train.Checkpoint(**parts, settings=settings, **({"optimizer": optimizer} if optimizer else {}))


def checkpoint_prefix(args):
    return os.path.join(args.out, f"sine-wave-rnn-{args.hidden}-{args.seq_width}-0")


def command(out, hidden, seq_width, lag, **_):
    """The command line that writes, or fits, a checkpoint of these settings."""
    return f"python sine_wave.py --out {shlex.quote(out)} --hidden {hidden} --seq-width {seq_width} --lag {lag}"


def restore(saver, args, out):
    """Load the checkpoint into `saver`, or raise a one-line UserError saying why not."""
    prefix, key = checkpoint_prefix(args), "settings/.ATTRIBUTES/VARIABLE_VALUE"
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = reader.get_variable_to_shape_map()
        settings = json.loads(reader.get_tensor(key).decode()) if key in names else None
        if settings is None or "LSTMCell/W/.ATTRIBUTES/VARIABLE_VALUE" not in names:
            raise UserError(f"checkpoint {prefix} was not written by this version of sine_wave.py; "
                            f"train it again with: {command(**vars(args))}")
        wrong = [f"--{opt.replace('_', '-')} {settings.get(opt)}, not {getattr(args, opt)}"
                 for opt in ("hidden", "seq_width", "lag") if settings.get(opt) != getattr(args, opt)]
        if wrong:  # another --lag, or a renamed file
            raise UserError(f"checkpoint {prefix} was trained with {'; '.join(wrong)}; "
                            f"use it with: {command(args.out, **settings)} --restore")
        saver.read(prefix).assert_existing_objects_matched().expect_partial()  # Adam's state is not needed
    except UserError:
        raise
    except Exception as exc:  # TF raises several kinds for a damaged file
        raise UserError(f"cannot read checkpoint {prefix}: {first_line(exc)}") from None
    say(f"Restored {prefix}")
    out.restored_from = settings


# --- How good is it: the test half against simple predictors
def real_target_count(n_targets, offset, seq_width, lag, length):
    """How many rows from `offset` have a target inside the sequence, not padding."""
    return int(np.clip(length - (offset + seq_width + lag), 0, n_targets))


def metrics_of(out, train_input, train_target, train_outs, test_input, test_target, test_outs, y):
    args, target = out.args, np.ravel(test_target)
    n = real_target_count(len(test_input), len(train_input), args.seq_width, args.lag, len(y))
    # Baselines: always zero; the window's last value; a least-squares linear map fitted on the training half
    ones = np.ones((len(train_input), 1))  # both halves have n_steps rows
    coef = np.linalg.lstsq(np.hstack([train_input, ones]), np.ravel(train_target), rcond=None)[0]
    preds = {"lstm": np.ravel(test_outs), "zero": 0 * target, "last_value": test_input[:, -1],
             "linear": np.hstack([test_input, ones]) @ coef}
    final_error = float(np.sqrt(np.sum((np.ravel(train_outs) - np.ravel(train_target)) ** 2)))
    # Each test window's largest |difference| from its nearest training window
    gaps = np.array([np.abs(train_input - window).max(axis=1).min() for window in test_input[:n]])
    metrics = {
        "train_error": out.errors[-1] if out.errors else final_error,
        "final_train_error": final_error,
        "test_rmse": {k: float(np.sqrt(np.mean((p[:n] - target[:n]) ** 2))) for k, p in preds.items()},
        "test_positions": n,
        "test_half": "y repeats every 2 pi, so each test window nearly repeats a training window",
        "test_window_gap": {"max": float(gaps.max()), "median": float(np.median(gaps)), "y_range": float(np.ptp(y))},
        "epochs": len(out.errors),
        "restored": bool(args.restore),
        "options": {**settings_of(args), "xla": not args.no_xla},
    }
    return {**metrics, "checkpoint": out.restored_from} if out.restored_from else metrics


def metrics_lines(m):
    which = "last epoch" if m["epochs"] else "restored network" if m["restored"] else "untrained network"
    yield f"\nTraining error (the post's sqrt of sum of squares), {which}: {m['train_error']:.5f}"
    yield f"Test RMSE over the {m['test_positions']} test positions with a real target:"
    for key, label in (("lstm", "LSTM (this network)"), ("zero", "always zero"),
                       ("last_value", "last value of the window"), ("linear", "linear map, least squares")):
        yield f"  {label:<28}{m['test_rmse'][key]:>9.5f}"
    yield (f"(y repeats every 2 pi: each test window lies within {m['test_window_gap']['max']:.3f} of a training "
           "window, so this measures fit, not generalisation)\n")


def write_predictions(path, x, train_target, train_outs, test_target, test_outs):
    """Both halves as CSV, every value written exactly (a Python float's repr round-trips)."""
    n = len(train_target)
    target = np.concatenate([train_target, test_target]).ravel().tolist()
    prediction = np.concatenate([train_outs, test_outs]).ravel().tolist()
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["x", "half", "target", "prediction"])
        writer.writerows(zip(x[:2 * n].tolist(), ["train"] * n + ["test"] * n, target, prediction))


# --- The command line and main
class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")  # one line, no usage block


def whole_number(low, high=None):
    def parse(text):
        if text.strip().lstrip("+-").isdigit() and low <= int(text) <= (high or int(text)):
            return int(text)
        allowed = f">= {low}" if high is None else f"from {low} to {high}"
        raise argparse.ArgumentTypeError(f"expected a whole number {allowed}, got {text!r}")

    return parse


def parse_args(argv=None):
    p = Parser(prog="sine_wave.py", description="The LSTM of 'TensorFlow and Recurrent Neural Networks' (2016).")
    add = p.add_argument
    add("--epochs", type=whole_number(0), default=epochs,
        help="full-sequence training updates; 0 saves the untrained network (%(default)s)")
    add("--hidden", type=whole_number(1, MAX_HIDDEN), default=num_hidden,
        help=f"LSTM units, num_hidden, 1 to {MAX_HIDDEN} (%(default)s)")
    add("--seq-width", type=whole_number(1), default=seq_width,
        help="values in each input window, seq_width (%(default)s)")
    add("--lag", type=whole_number(0), default=lag, help="steps past the window's end to the target (%(default)s)")
    add("--seed", type=whole_number(0, 2**32 - 1), default=seed, help="same seed, same log (%(default)s)")
    add("--lr-schedule", choices=sorted(LR_SCHEDULES), default="as-written",
        help="as-written: what the post's chain does, 1e-2 then 5e-3; stepped: what it meant (%(default)s)")
    add("--out", default="output", help="folder for everything the run writes (%(default)s)")
    add("--no-show", action="store_true", help="open no figure windows (with a display, each waits until closed)")
    add("--restore", action="store_true", help="predict with the saved checkpoint instead of training")
    add("--no-xla", action="store_true", help="run the step as a plain tf.function, without XLA")
    add("--animate", action="store_true", help="also write training.gif, the output as it trains")
    args = p.parse_args(argv)
    length = len(gen_seq()[0])
    most = length - length // 2 - 1  # the first test target, y[n_steps + seq_width + lag], must exist
    if args.lag + args.seq_width > most:
        p.error(f"argument --lag/--seq-width: --lag {args.lag} plus --seq-width {args.seq_width} is "
                f"{args.lag + args.seq_width}; at most {most} leaves the test half a real target")
    if not args.out or os.path.exists(args.out) and not os.path.isdir(args.out):
        p.error(f"argument --out: {args.out!r} is not a folder")
    if args.out.encode(errors="replace").decode() != args.out:  # surrogates: bytes that are not UTF-8
        p.error(f"argument --out: {ascii(args.out)} is not valid UTF-8, which TensorFlow's file functions need")
    return args


def main(argv=None):
    """Run the post; return the exit status. An error is one line on stderr; --out is left as it was."""
    args = parse_args(argv)
    previous = {s: signal.signal(s, on_signal) for s in SIGNALS}
    out, code = None, 0
    try:
        prefix = checkpoint_prefix(args)
        if args.restore and not os.path.exists(prefix + ".index"):  # before anything is made
            raise UserError(f"no checkpoint at {prefix}.index; "
                            f"create it with: {command(**vars(args))}")
        load_pyplot(show=not args.no_show)
        out = Output(args)
        run(args, out)
    except UserError as exc:
        code = fail(*exc.args)
    except OSError as exc:  # a full disk, a folder removed mid-run
        code = fail(f"cannot write the results to {args.out}: {exc}; earlier results there are untouched")
    except KeyboardInterrupt as exc:  # SIGTERM and SIGHUP too (on_signal)
        signum = exc.args[0] if exc.args else signal.SIGINT
        where = f" at epoch {len(out.errors)} of {args.epochs}" if out and out.training else ""
        done = (f"the results were already written to {args.out}" if out and out.committed
                else f"nothing written, earlier results in {args.out} untouched")
        code = fail(f"interrupted by {signal.Signals(signum).name}{where}; {done}", 128 + signum)
    except Exception as exc:  # TensorFlow's own (an XLA compile failure, an op that cannot run)
        if not type(exc).__module__.startswith(("tensorflow", "keras")):
            raise
        hint = "" if args.no_xla else "; if XLA is the problem, run with --no-xla"
        code = fail(f"TensorFlow failed: {type(exc).__name__}: {first_line(exc)}{hint}")
    finally:
        if out is not None:
            shutil.rmtree(out.dir, ignore_errors=True)
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code


def fail(message, code=1):
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()  # the log's last lines before the error
    with contextlib.suppress(OSError, ValueError):
        print(f"sine_wave.py: error: {message}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    if "IPython" in sys.modules:  # `%run sine_wave.py` in a notebook: keep the kernel alive
        if code := main():
            raise SystemExit(code)
    else:
        for fd, name in enumerate(("stdin", "stdout", "stderr")):  # a closed stream (`>&-`) becomes /dev/null
            if getattr(sys, name) is None:
                os.dup2(os.open(os.devnull, os.O_RDWR), fd)
                setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))
        code = main()
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)  # all is written: skip Python's teardown of TensorFlow (about a second)
