"""TensorFlow and Recurrent Neural Networks (Maksim An, 2016-03-10), on today's TensorFlow.

The post's code was written for TensorFlow 0.7 and no longer runs. This file is
the post again, computing what 0.7 computed: its six code blocks in its order,
under its names, each followed by the code that draws its figure.

    Post block 1  gen_seq(): the sequence                      -> sequence.png
    Post block 2  the network: an LSTM over one long sequence
    Post block 3  gen_inputs(): windows and the value `lag` steps later
    Post block 4  the untrained network's output               -> sequence-and-network-output.png
    Post block 5  the train ops: error, learning rate, clipping, Adam
    Post block 6  100 epochs, the checkpoint, both halves      -> training-complete.png

Below the fence ("Everything the post does not have") is the plumbing: quiet
start-up, checkpoint checks, figures and windows, safe saving, signals, the
command line. README.md lists every difference from the post.

    python sine_wave.py            # train, print the log, write output/
    python sine_wave.py --restore  # predict from the saved checkpoint
    python sine_wave.py --help
"""

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

# Settings: the post's numbers, each once. The command line overrides the first four and `seed`.
num_hidden = 10        # LSTM units
seq_width = 10         # values in each input window
lag = 60               # the target lies `lag` steps past the window's end
epochs = 100           # for i in range(100)
init_scale = 0.1       # tf.random_uniform_initializer(-.1, .1)
clip_norm = 5.0        # tf.clip_by_global_norm(grads, 5.)
adam_epsilon = 1e-8    # TF 0.7 AdamOptimizer's epsilon; Keras 3 would use 1e-7
seed = 20160310        # the post's date; same seed, same log
out_dir = "output"     # figures, checkpoint, metrics
WIDE = (12, 7)         # the post's trained-network figures are wide


# ---------------------------------------------------------------------------
# Post block 1: "Feeding a random sequence might not be very interesting, so lets generate one"
# ---------------------------------------------------------------------------
def gen_seq():
    x = np.arange(0.0, np.pi * 12, 0.03)
    # bell = exp(-(sin(x - pi/2) - 2 pi)^2 / 9); y = 100 sin(8x) bell
    bell = np.exp(-((np.sin(x - np.pi / 2) - 2 * np.pi) ** 2) / 9.0)
    y = 100 * np.sin(8 * x) * bell
    y = np.reshape(y, (len(y), 1))
    return x, y  # the post plotted here too; plot_sequence does (README: differences)


def plot_sequence(fig, x, y):
    ax = fig.subplots()
    ax.plot(x, y, "b-", label="y = 100 sin(8x) exp(-(sin(x - pi/2) - 2 pi)^2 / 9)")
    return _finish(fig, ax, "The sequence: a sine wave under a repeating bell")


# ---------------------------------------------------------------------------
# Post block 2: "lets build our own TensorFlow computation graph"
# Reordered: the read-out W, b of block 5 is built here, because block 4 already needs the output.
# ---------------------------------------------------------------------------
@dataclass
class Network:
    lstm: object  # keras.layers.LSTM: rnn_cell.LSTMCell run by rnn()
    W: object     # tf.Variable [num_hidden, 1]
    b: object     # tf.Variable [1]

    def __call__(self, seq_input):
        """[n_steps, seq_width] -> [n_steps, 1]: the post's `output`."""
        outputs = self.lstm(seq_input[None])[0]  # the whole half as ONE sequence, batch 1
        return outputs @ self.W + self.b

    @property
    def trainable_variables(self):
        return [*self.lstm.trainable_variables, self.W, self.b]


def build_network(num_hidden=num_hidden, seq_width=seq_width, seed=seed):
    tf = import_tensorflow()
    seed_everything(seed)
    import keras

    uniform = keras.initializers.RandomUniform
    # TF 0.7's LSTMCell: i, j, f, o = split([x, h] @ M + bias); c = sig(f + 1) c + sig(i) tanh(j); h = sig(o) tanh(c)
    # Keras splits M into kernel (x rows) and recurrent kernel (h rows), orders gates i, f, c, o, keeps the +1 in the bias.
    lstm = keras.layers.LSTM(
        num_hidden,
        return_sequences=True,
        kernel_initializer=uniform(-init_scale, init_scale, seed=seed),
        recurrent_initializer=uniform(-init_scale, init_scale, seed=seed + 1),
        bias_initializer="zeros",
        unit_forget_bias=True,
        name="lstm",
    )
    lstm.build((1, None, seq_width))
    # 0.7's tf.get_variable default, uniform_unit_scaling: U(+-sqrt(3 / fan_in)); so b is random, not zero
    rng = np.random.default_rng(seed)
    w_scale, b_scale = math.sqrt(3.0 / num_hidden), math.sqrt(3.0)
    W = tf.Variable(rng.uniform(-w_scale, w_scale, (num_hidden, 1)).astype(np.float32), name="W")
    b = tf.Variable(rng.uniform(-b_scale, b_scale, (1,)).astype(np.float32), name="b")
    return Network(lstm, W, b)


# ---------------------------------------------------------------------------
# Post block 3: "Our goal is to make a prediction what is the value going to be in lag steps,
# based on seq_width number of previous steps"
# ---------------------------------------------------------------------------
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


class Feed(NamedTuple):
    """The post's feed dict: what fills the placeholders seq_input and seq_target."""
    seq_input: object
    seq_target: object


def feed_dict(seq_input, seq_target):
    tf = import_tensorflow()
    return Feed(tf.constant(seq_input, tf.float32), tf.constant(seq_target, tf.float32))


# ---------------------------------------------------------------------------
# Post block 4: "Lets generate inputs and targets and feed them to our rnn"
# ---------------------------------------------------------------------------
def make_predict(network, jit_compile=True):
    """session.run(output, feed_dict=feed), compiled once for both halves (same shape)."""
    tf = import_tensorflow(xla=jit_compile)
    return tf.function(network.__call__, jit_compile=jit_compile, autograph=False)


def plot_untrained(fig, x, train_target, net_outs):
    ax = fig.subplots()
    ax.plot(x, train_target, "b-", label="target (training half)")
    ax.plot(x, net_outs, "r-", label="untrained network's output")
    return _finish(fig, ax, "Before training")


# ---------------------------------------------------------------------------
# Post block 5: "Now let's add some train ops."
# ---------------------------------------------------------------------------
def error(output, seq_target):
    tf = import_tensorflow()
    # error = sqrt(sum((output - target)^2)): the L2 norm of the residual, not a mean
    return tf.sqrt(tf.reduce_sum(tf.square(output - seq_target)))


def build_optimizer(network):
    import keras

    optimizer = keras.optimizers.Adam(learning_rate=0.0, epsilon=adam_epsilon)  # lr = tf.Variable(0.)
    optimizer.build(network.trainable_variables)  # its moments exist now, so a checkpoint always holds them
    return optimizer


def make_train_step(network, optimizer, jit_compile=True):
    """session.run([error, output, train_op]): the error and output from *before* the update."""
    tf = import_tensorflow(xla=jit_compile)
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


# ---------------------------------------------------------------------------
# Post block 6: "Now lets run training for 100 epochs"
# ---------------------------------------------------------------------------
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


def train(train_step, optimizer, feed, n_epochs, lr=learning_rate):
    """The post's loop: set the rate, run one step; yields (i, err, net_outs) each epoch, err a scalar tensor."""
    for i in range(n_epochs):
        optimizer.learning_rate.assign(lr(i))
        err, net_outs = train_step(feed.seq_input, feed.seq_target)
        yield i, err, net_outs


def checkpoint_prefix(out, num_hidden, seq_width):
    # saver.save(session, 'sine-wave-rnn-' + str(num_hidden) + '-' + str(seq_width), global_step=0)
    return os.path.join(out, f"sine-wave-rnn-{num_hidden}-{seq_width}-0")


def make_checkpoint(network, optimizer, settings):
    """tf.train.Saver(): every variable, plus the settings that give the weights their meaning."""
    tf = import_tensorflow()
    return tf.train.Checkpoint(lstm=network.lstm, W=network.W, b=network.b, optimizer=optimizer,
                               settings=tf.Variable(json.dumps(settings, sort_keys=True), trainable=False))


def plot_training_complete(fig, x_train, train_target, train_outs, x_test, test_target, test_outs):
    ax = fig.subplots()
    ax.plot(x_train, train_target, "b-", label="target")
    ax.plot(x_train, train_outs, "g--", label="output, training half")
    ax.plot(x_test, test_outs, "r--", label="output, test half (y repeats: a near-copy of the first)")
    ax.plot(x_test, test_target, "b-")
    ax.axvline(x_test[0], color="0.6", linewidth=0.8)
    return _finish(fig, ax, "After training: the training half, then the test half")


def run(args, results):
    """The post from start to finish; `results` (below the fence) stages every file and figure."""
    # Post block 1: the sequence, shown before TensorFlow loads
    x, y = gen_seq()
    results.figure("sequence.png", plot_sequence, x, y, show=True)

    # Post block 2: the network, W and b included
    n_steps = len(x) // 2  # the post's len(x)/2 was Python 2 integer division
    network = build_network(args.hidden, args.seq_width, args.seed)

    # Post block 3: inputs and targets of the training half
    train_input, train_target = gen_inputs(y, n_steps, offset=0, seq_width=args.seq_width, lag=args.lag)
    feed = feed_dict(train_input, train_target)

    # Post block 4: the untrained network's output
    predict = make_predict(network, jit_compile=not args.no_xla)
    if not args.restore:
        net_outs = predict(feed.seq_input)
        results.figure("sequence-and-network-output.png", plot_untrained,
                       x[:n_steps], train_target, net_outs, figsize=WIDE, show=True)

    # Post block 5: the train ops
    optimizer = build_optimizer(network)
    train_step = make_train_step(network, optimizer, jit_compile=not args.no_xla)
    saver = make_checkpoint(network, optimizer, results.settings)

    # Post block 6: 100 epochs (or the saved ones), the checkpoint, both halves
    prefix = checkpoint_prefix(args.out, args.hidden, args.seq_width)
    errors = []
    if args.restore:
        results.restore(saver, prefix)  # the author's is_training = False
    else:
        for i, err, net_outs in results.watch(train(train_step, optimizer, feed, args.epochs,
                                                    LR_SCHEDULES[args.lr_schedule])):
            errors.append(err)
            results.log("Epoch %d: %1.5f" % (i, err))
        results.save(saver, prefix)
    train_outs = predict(feed.seq_input)
    test_input, test_target = gen_inputs(y, n_steps, offset=n_steps, seq_width=args.seq_width, lag=args.lag)
    test_fed = feed_dict(test_input, test_target)
    test_outs = predict(test_fed.seq_input)  # the post ran `feed` here (README: differences)
    results.figure("training-complete.png", plot_training_complete, x[:n_steps], train_target, train_outs,
                   x[n_steps:2 * n_steps], test_target, test_outs, figsize=WIDE)

    # Not in the post: how good is it, then every file into place at once
    return results.finish(errors, x, y, train_input, train_target, train_outs.numpy(),
                          test_input, test_target, test_outs.numpy())


# ===========================================================================
# Everything the post does not have: the plumbing, below this fence.
# ===========================================================================
import argparse, contextlib, errno, json, os, re, shlex, shutil, signal  # noqa: E401, E402
import subprocess, sys, tempfile, time, warnings  # noqa: E401, E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

PROG = "sine_wave.py"
MAX_HIDDEN = 512  # XLA's step needs ~628 * 4 * hidden^2 floats (README: big networks)


class UserError(Exception):
    """A problem the user can fix: one line on stderr, and an exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


class Diverged(Exception):
    """The training error became NaN or infinite."""


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM; a BaseException so that no `except Exception` on the way swallows it."""

    @property
    def signum(self):
        return self.args[0]


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- A quiet, talking start-up ----------------------------------------------
# TF prints C++ start-up lines even with TF_CPP_MIN_LOG_LEVEL set (README: a quiet console).
_TF_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\)"
    r"|oneDNN custom operations are on|Could not find cuda drivers|failed call to cuInit"
    r"|cpu_feature_guard|This TensorFlow binary is optimized|To enable the following instructions"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|TF-TRT Warning"
    r"|XLA service .* initialized for platform|StreamExecutor (device )?[\[(]\d+[\])]: Host"
    r"|Compiled cluster using XLA"
)
# A helper process passes on what isn't noise as it comes, so a message survives TF exiting mid-import.
_FILTER = ("import re, signal, sys\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nnoise = re.compile(sys.argv[1])\n"
           "for line in sys.stdin.buffer:\n"
           "    if line.strip() and not noise.search(line.decode(errors='replace')):\n"
           "        sys.stderr.buffer.write(line); sys.stderr.buffer.flush()\n")


@contextlib.contextmanager
def _filtered_stderr(noise):
    """Route file descriptor 2 through the filter while the block runs."""
    sys.stderr.flush()
    try:
        child = subprocess.Popen([sys.executable, "-I", "-S", "-c", _FILTER, noise.pattern],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)
    except OSError:  # no way to start it: let everything through
        yield
        return
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


class Status:
    """One line on a terminal's stderr saying what the run waits on; erased when the log goes on."""
    enabled = shown = False

    def say(self, text=None):
        if self.enabled and (text or self.shown):
            sys.stderr.write("\r\033[K" + (f"{PROG}: {text}" if text else ""))
            sys.stderr.flush()
            self.shown = bool(text)

    clear = say


STATUS = Status()
_xla_ready = False


def import_tensorflow(xla=False):
    """Import TensorFlow (with Keras on it) quietly; a failure says why in one line."""
    global _xla_ready
    if "tensorflow" not in sys.modules:
        STATUS.say("loading TensorFlow...")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # INFO off; warnings, errors on
        os.environ["KERAS_BACKEND"] = "tensorflow"  # whatever keras.json or the environment says
        # Notices about the libraries' own future APIs are for their developers, not for this script's user.
        for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category, module=r"(tensorflow|keras|matplotlib|absl)\b")
        try:
            with _filtered_stderr(_TF_NOISE):
                import tensorflow as tf

                tf.config.list_logical_devices()  # device start-up (cuInit) prints here
        except Exception as exc:  # ImportError, or a broken install failing its own way
            raise UserError(f"cannot import TensorFlow ({type(exc).__name__}: {_first_line(exc)}); "
                            "install it with: pip install -r requirements.txt") from None
    tf = sys.modules["tensorflow"]
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UserError(f"Keras is already loaded with the {keras.backend.backend()} backend in this process; "
                        "start a new one (in a notebook: restart the kernel) and run sine_wave.py first")
    if xla and not _xla_ready:
        user_flags = os.environ.get("XLA_FLAGS")
        # same numbers, a faster epoch; XLA before TF 2.19 aborts on the flag; the user's own setting wins
        if knows_xla_copy_flag(tf.__version__) and XLA_COPY_FLAG.split("=")[0] not in (user_flags or ""):
            os.environ["XLA_FLAGS"] = f"{user_flags or ''} {XLA_COPY_FLAG}".strip()  # read on XLA's first compile
        try:  # XLA announces itself on its first compile (INFO, whatever the log level): let it do so here
            with _filtered_stderr(_TF_NOISE):
                tf.function(lambda: tf.constant(1.0) + 1.0, jit_compile=True, autograph=False)()
        except Exception as exc:
            raise UserError(f"XLA cannot compile here ({_first_line(exc)}); run with --no-xla") from None
        finally:
            _restore_env("XLA_FLAGS", user_flags)
        _xla_ready = True
    return tf


XLA_COPY_FLAG = "--xla_cpu_copy_insertion_use_region_analysis=true"  # no sequence-long copies (docs/performance.md)


def knows_xla_copy_flag(tf_version):
    """XLA from TensorFlow 2.19 on; older XLA aborts on a flag it does not know."""
    return tuple(int(part) for part in re.findall(r"\d+", tf_version)[:2]) >= (2, 19)


def _restore_env(name, value):
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def seed_everything(value):
    """Python, NumPy and TensorFlow from one seed, and deterministic TF ops."""
    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(value)
    tf.config.experimental.enable_op_determinism()


# --- Training one epoch ahead (docs/performance.md) ---------------------------
def one_ahead(epochs):
    """Yield epoch i once epoch i + 1 is under way: in TF's async eager mode a step returns before it has
    run, so it computes while Python reads and logs the one before. Same ops, same order, same numbers."""
    tf = import_tensorflow()
    epochs = iter(epochs)
    previous = next(epochs, None)  # epoch 0 as before: it traces and compiles, with nothing to overlap
    if previous is None:
        return
    was_synchronous = tf.config.experimental.get_synchronous_execution()
    tf.config.experimental.set_synchronous_execution(False)
    try:
        for current in epochs:
            yield previous
            previous = current
        yield previous
    finally:
        tf.config.experimental.set_synchronous_execution(was_synchronous)  # waits for what is queued


# --- Checkpoints: settings and checks ----------------------------------------
_SETTINGS = "settings/.ATTRIBUTES/VARIABLE_VALUE"


def require_checkpoint(prefix, args):
    if not os.path.exists(prefix + ".index"):
        raise UserError(f"no checkpoint at {prefix} (looked for {prefix}.index); create it with: {_command(args)}")


def _command(args, restore=False, lag=None):
    words = ["--out", args.out, "--hidden", args.hidden, "--seq-width", args.seq_width,
             "--lag", args.lag if lag is None else lag]
    return "python sine_wave.py " + " ".join(shlex.quote(str(w)) for w in words) + (" --restore" if restore else "")


def restore_checkpoint(ckpt, prefix, args):
    """Load `prefix` into `ckpt`, or raise a one-line UserError saying why not; returns its settings."""
    tf = import_tensorflow()
    require_checkpoint(prefix, args)
    try:
        reader = tf.train.load_checkpoint(prefix)
        saved = reader.get_variable_to_shape_map()
        settings = (json.loads(reader.get_tensor(_SETTINGS).decode()) if _SETTINGS in saved else None)
    except Exception as exc:  # TF raises several kinds for a damaged file
        raise UserError(f"cannot read checkpoint {prefix}: {_first_line(exc)}") from None
    if settings is None:
        raise UserError(f"checkpoint {prefix} records no settings (an older sine_wave.py wrote it, or another "
                        f"program); train it again with: {_command(args)}")
    if settings.get("lag") != args.lag:
        raise UserError(f"checkpoint {prefix} was trained with --lag {settings.get('lag')}, not --lag {args.lag}; "
                        f"use it with: {_command(args, True, settings.get('lag'))}")
    # Shapes before loading: TF's own mismatch error is a page long. The network's variables first.
    expected = _checkpoint_shapes(ckpt)
    for key, shape in sorted(expected.items(), key=lambda kv: (kv[0].startswith("optimizer"), kv[0])):
        name = key.replace("/.ATTRIBUTES/VARIABLE_VALUE", "")
        if key not in saved:
            raise UserError(f"checkpoint {prefix} has no variable {name}; it was not written by this script")
        if list(saved[key]) != list(shape):
            raise UserError(f"checkpoint {prefix} does not fit these options: {name} has shape "
                            f"{tuple(saved[key])} in the file but {tuple(shape)} here (check --hidden and --seq-width)")
    try:
        ckpt.read(prefix).assert_existing_objects_matched()
    except Exception as exc:
        raise UserError(f"cannot read checkpoint {prefix}: {_first_line(exc)}") from None
    return settings


def _checkpoint_shapes(ckpt):
    """{checkpoint key: shape} that `ckpt` writes, learned from a scratch save."""
    tf = import_tensorflow()
    with tempfile.TemporaryDirectory() as scratch:
        path = ckpt.write(os.path.join(scratch, "probe"))
        return dict(tf.train.load_checkpoint(path).get_variable_to_shape_map())


# --- How good is it: the test half against simple predictors ----------------
def real_target_count(n_targets, offset, seq_width, lag, length):
    """How many of the rows from `offset` have a target inside the sequence (not padding)."""
    return int(np.clip(length - (offset + seq_width + lag), 0, n_targets))


def baseline_predictions(train_input, train_target, test_input):
    """Always zero; the window's last value; a least-squares linear map fitted on the training half."""
    design = np.hstack([train_input, np.ones((len(train_input), 1))])
    coef, *_ = np.linalg.lstsq(design, np.ravel(train_target), rcond=None)
    return {"zero": np.zeros(len(test_input)), "last_value": test_input[:, -1],
            "linear": np.hstack([test_input, np.ones((len(test_input), 1))]) @ coef}


def settings_of(args):
    """The options that give a run's weights and numbers their meaning."""
    return {"hidden": args.hidden, "seq_width": args.seq_width, "lag": args.lag, "seed": args.seed,
            "lr_schedule": args.lr_schedule}


def metrics_of(errors, train_input, train_target, train_outs, test_input, test_target, test_outs, y, args):
    n_real = real_target_count(len(test_input), len(train_input), args.seq_width, args.lag, len(y))
    preds = {"lstm": np.ravel(test_outs), **baseline_predictions(train_input, train_target, test_input)}
    final_error = float(np.sqrt(np.sum((np.ravel(train_outs) - np.ravel(train_target)) ** 2)))
    # Each test window against its nearest training window: the largest |difference| between them
    gaps = np.array([np.abs(train_input - window).max(axis=1).min() for window in test_input[:n_real]])
    rmse = {name: float(np.sqrt(np.mean((p[:n_real] - np.ravel(test_target)[:n_real]) ** 2))) for name, p in preds.items()}
    return {
        "train_error": errors[-1] if errors else final_error,
        "final_train_error": final_error,
        "test_rmse": rmse,
        "test_positions": n_real,
        "test_half": "y repeats every 2 pi, so each test window nearly repeats a training window",
        "test_window_gap": {"max": float(gaps.max()), "median": float(np.median(gaps)),
                            "y_range": float(np.ptp(y))},
        "epochs": len(errors),
        "restored": bool(args.restore),
        "options": {**settings_of(args), "xla": not args.no_xla},
    }


def metrics_lines(metrics):
    names = {"lstm": "LSTM (this network)", "zero": "always zero",
             "last_value": "last value of the window", "linear": "linear map, least squares"}
    which = "last epoch" if metrics["epochs"] else "restored network" if metrics["restored"] else "untrained network"
    gap = metrics["test_window_gap"]
    yield ""
    yield f"Training error (the post's sqrt of sum of squares), {which}: {metrics['train_error']:.5f}"
    yield f"Test RMSE over the {metrics['test_positions']} test positions with a real target:"
    for key, label in names.items():
        yield f"  {label:<28}{metrics['test_rmse'][key]:>9.5f}"
    yield (f"(y repeats every 2 pi: each test window lies within {gap['max']:.3f} of a training window, "
           f"so this measures fit, not generalisation)")
    yield ""


def write_predictions(path, x, train_target, train_outs, test_target, test_outs, n_steps):
    """Both halves as CSV, every value written exactly (repr round-trips)."""
    with open(path, "w") as f:
        f.write("x,half,target,prediction\n")
        for half, xs, target, outs in (("train", x[:n_steps], train_target, train_outs),
                                       ("test", x[n_steps:2 * n_steps], test_target, test_outs)):
            for xi, t, p in zip(xs, np.ravel(target), np.ravel(outs)):
                f.write(f"{float(xi)!r},{half},{float(t)!r},{float(p)!r}\n")


# --- Figures ------------------------------------------------------------------
def _finish(fig, ax, title, xlabel="x", ylabel="y"):
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if ax.get_legend_handles_labels()[0]:
        fig.legend(loc="outside lower center", ncols=4, frameon=False)  # below the axes, off the curves
    return fig


def plot_training_error(fig, errors):
    ax = fig.subplots()
    if errors:
        ax.semilogy(range(len(errors)), errors, "b.-", label="error = sqrt(sum((output - target)^2))")
    else:
        ax.text(0.5, 0.5, "no epochs run", ha="center", va="center", transform=ax.transAxes)
    return _finish(fig, ax, "Training error per epoch (before each update)", "epoch", "error (log scale)")


def animate_training(path, x, train_target, frames):
    """training.gif: the output against the target, one frame per recorded epoch (Matplotlib's Pillow writer)."""
    from matplotlib.animation import PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot(x, train_target, "b-", label="target")
    (line,) = ax.plot(x, frames[0][1], "g--", label="output")
    ax.set(xlabel="x", ylabel="y", ylim=(1.1 * float(np.min(train_target)), 1.1 * float(np.max(train_target))))
    _finish(fig, ax, "")
    writer = PillowWriter(fps=8)
    with writer.saving(fig, path, dpi=80):
        for i, outs in frames:
            line.set_ydata(outs)
            ax.set_title(f"Training, epoch {i}")
            writer.grab_frame()


def _draw(fig, plot, data, path, figsize=None):
    if fig is None:
        from matplotlib.figure import Figure  # Agg, no pyplot: safe off the main thread

        fig = Figure(figsize=figsize, layout="constrained")
    plot(fig, *data)
    fig.savefig(path, dpi=100)


_NOT_SHOWN = {"agg", "pdf", "ps", "svg", "pgf", "cairo", "template"}
_WINDOWS = {"macosx", "qtagg", "qt5agg", "gtk3agg", "gtk4agg", "gtk3cairo", "gtk4cairo", "tkagg", "tkcairo",
            "wxagg", "wx", "qtcairo", "qt5cairo"}


def _showing_pyplot():
    """pyplot if figures can be shown here (a window, or inline in a notebook), else None."""
    backend = os.environ.get("MPLBACKEND", "").lower()
    in_notebook = "ipykernel" in sys.modules
    if backend in _NOT_SHOWN or (os.environ.get("CI") and not in_notebook):
        return None
    if sys.platform.startswith("linux") and not (backend or in_notebook) and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return None  # no display: skip the pyplot import altogether
    try:
        import matplotlib.pyplot as plt

        name = plt.get_backend().lower()
    except Exception:  # the backend asked for cannot start here
        return None
    return plt if name in _WINDOWS or "inline" in name else None


class Figures:
    """Saves each figure into `folder`; where figures can be shown, shows them at the post's plt.show().

    Shown figures are drawn on the main thread (a window blocks until closed, as in the post);
    elsewhere they are drawn on one worker thread while training runs.
    """

    def __init__(self, folder, show):
        self.folder = folder
        self.plt = _showing_pyplot() if show else None
        self.pool = None if self.plt else ThreadPoolExecutor(max_workers=1)
        self.jobs, self.shown = [], []

    def draw(self, name, plot, *data, figsize=(8, 6)):
        path = os.path.join(self.folder, name)
        if self.plt is not None:
            self.shown.append(self.plt.figure(num=name, figsize=figsize, layout="constrained"))
            _draw(self.shown[-1], plot, data, path)
        else:
            self.jobs.append(self.pool.submit(_draw, None, plot, data, path, figsize))

    def later(self, fn, *data):
        """Run fn(*data) off the critical path where there is a worker, else now."""
        if self.pool is None:
            fn(*data)
        else:
            self.jobs.append(self.pool.submit(fn, *data))

    def show(self):
        if self.plt is not None:
            self.plt.show()

    def show_last(self, out):
        """Show the final figures; the results are written, so a signal ends the process at once
        (closing Tk windows from inside their own event loop leaves Tcl errors behind)."""
        def leave(signum):
            os._exit(_fail(f"interrupted by {signal.Signals(signum).name}; the results were already written "
                           f"to {out}", 128 + signum))

        if self.plt is not None:
            with _signals_deferred(leave):
                self.plt.show()

    def wait(self):
        for job in self.jobs:
            job.result()  # re-raises a drawing error

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.plt is not None and "inline" in self.plt.get_backend():
            for fig in self.shown:  # else the notebook shows them again at the cell's end
                self.plt.close(fig)


# --- Saving: all or nothing ---------------------------------------------------
# A run writes into its own scratch folder inside --out, locked (flock) while the run lives.
# `commit` links every file it will replace into the scratch folder, writes a journal, then
# moves the new files in; any failure puts the old ones back. A run killed mid-move leaves
# the journal, and the next run into the folder rolls the move back (README: safe saving).
try:
    import fcntl  # noqa: E402
except ImportError:  # Windows: no flock; scratch folders of killed runs are left for the user
    fcntl = None

_JOURNAL, _BACKUP = "journal", ".old"
_deferred = []  # [what to do at once, signals held back...] while a block must not be cut short


def _raise_interrupted(signum, frame):
    if _deferred:
        _deferred.append(signum)
        _deferred[0](signum)
        return
    for s in (signal.SIGINT, signal.SIGTERM):  # one message, however often Ctrl-C is pressed
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def _signals_deferred(at_once=lambda signum: None):
    _deferred[:] = [at_once]
    try:
        yield
    finally:
        pending = _deferred[1:]
        _deferred[:] = []
        if pending:
            _raise_interrupted(pending[0], None)


@contextlib.contextmanager
def _locked(path, wait=True):
    """Hold flock on folder `path` (POSIX); yields False if `wait` is off and another process holds it."""
    if fcntl is None:
        yield True
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _roll_back(folder, out):
    """Undo a move into `out` that failed or was cut short, from `folder`'s journal."""
    with open(os.path.join(folder, _JOURNAL)) as f:
        names = f.read().split()
    for name in names:
        old, staged = os.path.join(folder, name + _BACKUP), os.path.join(folder, name)
        if os.path.exists(old):
            os.replace(old, os.path.join(out, name))
        elif not os.path.exists(staged):  # moved in, with nothing before it
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(out, name))


class Staging:
    PREFIX = ".sine_wave-"
    committed = []

    def __init__(self, out):
        self.out = out
        with _locked(out, wait=False) as free:
            if free:  # else another run is moving its files in: leave recovery to the next run
                _recover(out)
            self.dir = tempfile.mkdtemp(prefix=self.PREFIX, dir=out)
            self._lock = _locked(self.dir)  # marks this folder live for as long as the run lives
            self._lock.__enter__()

    def path(self, name):
        return os.path.join(self.dir, name)

    def commit(self, names):
        """Move `names` from the scratch folder into `out`, all or nothing."""
        for name in names:
            if not os.path.isfile(self.path(name)):
                raise OSError(errno.ENOENT, f"{name} vanished from the run's scratch folder (was {self.out} "
                              "moved or removed during the run?)")
        with _locked(self.out), _signals_deferred():
            for name in names:  # keep what each file replaces, to put it back
                if os.path.exists(os.path.join(self.out, name)):
                    try:
                        os.link(os.path.join(self.out, name), self.path(name + _BACKUP))
                    except OSError:  # a file system without hard links
                        shutil.copy2(os.path.join(self.out, name), self.path(name + _BACKUP))
            with open(self.path(_JOURNAL + ".tmp"), "w") as f:
                f.write("\n".join(names))
                f.flush()
                os.fsync(f.fileno())
            os.replace(self.path(_JOURNAL + ".tmp"), self.path(_JOURNAL))
            try:
                for name in names:
                    os.replace(self.path(name), os.path.join(self.out, name))
            except BaseException:
                _roll_back(self.dir, self.out)
                raise
            os.remove(self.path(_JOURNAL))  # the move is complete: nothing to undo
            self.committed = [os.path.join(self.out, n) for n in names]
        return self.committed

    def discard(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        self._lock.__exit__(None, None, None)


def _recover(out):
    """Roll back and remove the scratch folders of runs that died (their flock is gone)."""
    if fcntl is None:
        return
    for name in os.listdir(out):
        folder = os.path.join(out, name)
        if not (name.startswith(Staging.PREFIX) and os.path.isdir(folder)):
            continue
        with _locked(folder, wait=False) as dead:
            if dead:
                if os.path.exists(os.path.join(folder, _JOURNAL)):
                    _roll_back(folder, out)
                shutil.rmtree(folder, ignore_errors=True)


# --- One run's results: staging, figures, timing, metrics --------------------
class Results:
    """Everything `run` writes or shows, and how far it got."""

    FRAME_EVERY = 4  # epochs between frames of training.gif

    def __init__(self, args, log=print):
        self.args, self.log_line = args, log
        self.started = time.perf_counter()
        self.epoch = None      # the epoch under way, for the interrupt message
        self.seconds = []      # each epoch's time
        self.frames = []       # (epoch, output) for --animate
        self.restored_from = None
        self.names = []        # files staged so far
        self.settings = {**settings_of(args), "epochs": args.epochs}  # stored in the checkpoint
        if args.restore:
            require_checkpoint(checkpoint_prefix(args.out, args.hidden, args.seq_width), args)  # before TF loads
        self.staging = Staging(args.out)
        self.figures = Figures(self.staging.dir, show=not args.no_show)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.figures.close()
        self.staging.discard()

    def log(self, line):
        STATUS.clear()
        self.log_line(line)

    def figure(self, name, plot, *data, figsize=(8, 6), show=False):
        self.names.append(name)
        self.figures.draw(name, plot, *(getattr(d, "numpy", lambda: d)() for d in data), figsize=figsize)
        if show:
            self.figures.show()

    def watch(self, epochs):
        """Time each epoch, stop on a non-finite error, keep frames for --animate; err becomes a float."""
        self.epoch = 0
        STATUS.say("compiling the training step" + ("" if self.args.no_xla else " with XLA") + "...")
        started = time.perf_counter()
        for i, err, net_outs in one_ahead(epochs):
            err = float(err)
            now = time.perf_counter()
            self.seconds.append(now - started)
            started = now
            if not math.isfinite(err):
                raise Diverged(f"the training error became {err} at epoch {i}")
            if self.args.animate and (i % self.FRAME_EVERY == 0 or i == self.args.epochs - 1):
                self.frames.append((i, net_outs.numpy()))
            yield i, err, net_outs
            self.epoch = i + 1

    def save(self, saver, prefix):
        self.epoch = None
        name = os.path.basename(prefix)
        try:
            saver.write(self.staging.path(name))
        except Exception as exc:  # TF's own errors (a full disk: ResourceExhaustedError)
            raise OSError(f"writing the checkpoint failed: {_first_line(exc)}") from None
        self.names += [name + ".index", name + ".data-00000-of-00001"]

    def restore(self, saver, prefix):
        self.restored_from = restore_checkpoint(saver, prefix, self.args)
        self.log(f"Restored {prefix}")

    def finish(self, errors, x, y, train_input, train_target, train_outs, test_input, test_target, test_outs):
        args, n_steps = self.args, len(train_input)
        if not args.restore:
            self.figure("training-error.png", plot_training_error, errors)
        if self.frames:
            self.names.append("training.gif")
            self.figures.later(animate_training, self.staging.path("training.gif"), x[:n_steps], train_target,
                               self.frames)
        metrics = metrics_of(errors, train_input, train_target, train_outs, test_input, test_target,
                             test_outs, y, args)
        if self.restored_from:
            metrics["checkpoint"] = self.restored_from
        for line in metrics_lines(metrics):
            self.log(line)
        with open(self.staging.path("metrics.json"), "w") as f:
            f.write(json.dumps(metrics, indent=2) + "\n")
        write_predictions(self.staging.path("predictions.csv"), x, train_target, train_outs,
                          test_target, test_outs, n_steps)
        self.names += ["metrics.json", "predictions.csv"]
        self.figures.wait()
        # The checkpoint's .index last: it is what --restore looks for.
        for path in self.staging.commit(sorted(self.names, key=lambda n: (n.endswith(".index"), n))):
            self.log(f"Wrote {path}")
        self.figures.show_last(self.args.out)
        self.log(self.timing())
        return metrics

    def timing(self):
        text = f"Finished in {time.perf_counter() - self.started:.1f} s"
        if self.seconds:
            first, *rest = self.seconds
            text += f": the first epoch {first:.2f} s (tracing and compiling the step)"
            if rest:
                text += f", then {1000 * float(np.median(rest)):.1f} ms per epoch (median)"
        return text


# --- The command line -----------------------------------------------------------
EXAMPLES = """\
examples:
  python sine_wave.py                                  train as the post does, write output/
  python sine_wave.py --restore                        predict with the checkpoint in output/
  python sine_wave.py --lr-schedule stepped --out stepped
  python sine_wave.py --no-show --animate              no windows; also write training.gif

rules:
  --lag + --seq-width is at most 628, so the test half keeps at least one real target.
  --restore needs a checkpoint written with the same --hidden, --seq-width and --lag.
  --hidden is at most 512: above that XLA's step needs over 10 GB and an epoch takes seconds.
  --seed is from 0 to 4294967295 (NumPy's range).
  Where a display is available each figure opens in a window and the run waits until you
  close it, as the post's plt.show() did; --no-show skips the windows (files are still written).
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")  # one line, no usage block


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
    p = _Parser(prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES,
                description="Train the LSTM of 'TensorFlow and Recurrent Neural Networks' (2016) to predict a\n"
                            "bell-modulated sine wave, and save its figures, checkpoint and metrics.")
    p.add_argument("--epochs", metavar="N", type=_whole_number(0), default=epochs,
                   help="full-sequence training updates; 0 plots and saves the untrained network (default: %(default)s)")
    p.add_argument("--hidden", metavar="N", type=_whole_number(1), default=num_hidden,
                   help=f"LSTM units, the post's num_hidden, 1 to {MAX_HIDDEN} (default: %(default)s)")
    p.add_argument("--seq-width", metavar="N", type=_whole_number(1), default=seq_width,
                   help="values in each input window, the post's seq_width (default: %(default)s)")
    p.add_argument("--lag", metavar="N", type=_whole_number(0), default=lag,
                   help="how many steps past the window's end the target lies (default: %(default)s)")
    p.add_argument("--seed", metavar="N", type=_whole_number(0, 2**32 - 1), default=seed,
                   help="random seed, 0 to 2^32-1; the same seed prints the same log (default: %(default)s)")
    p.add_argument("--lr-schedule", choices=sorted(LR_SCHEDULES), default="as-written",
                   help="as-written: what the post's chain does (1e-2, then 5e-3); stepped: what it meant "
                        "(README: differences) (default: %(default)s)")
    p.add_argument("--out", metavar="DIR", default=out_dir,
                   help="folder for figures, checkpoint, predictions and metrics (default: %(default)s)")
    p.add_argument("--no-show", action="store_true", help="never open figure windows")
    p.add_argument("--restore", action="store_true",
                   help="load the saved checkpoint instead of training, and predict with it")
    p.add_argument("--no-xla", action="store_true",
                   help="run the step as a plain tf.function: no XLA compile at all")
    p.add_argument("--animate", action="store_true",
                   help="also write training.gif: the output against the target as it trains")
    return p


def parse_args(argv=None):
    p = make_parser()
    args = p.parse_args(argv)
    length = len(gen_seq()[0])
    most = length - length // 2 - 1  # the first test target, y[n_steps + seq_width + lag], must exist
    if args.lag + args.seq_width > most:
        p.error(f"argument --lag/--seq-width: --lag {args.lag} plus --seq-width {args.seq_width} is "
                f"{args.lag + args.seq_width}; at most {most} leaves the test half a real target")
    if args.hidden > MAX_HIDDEN:
        p.error(f"argument --hidden: {args.hidden} is above {MAX_HIDDEN}: the XLA step would need about "
                f"{628 * 4 * args.hidden ** 2 * 4 / 2 ** 30:.0f} GiB and seconds per epoch (the post uses 10)")
    if not args.out:
        p.error("argument --out: expected a folder name, got ''")
    try:
        args.out.encode("utf-8")
    except UnicodeEncodeError:
        p.error(f"argument --out: {ascii(args.out)} is not valid UTF-8, which TensorFlow's file functions need")
    # Scratch folder + the longest file name must fit in a path.
    length = len(os.fsencode(os.path.abspath(args.out)))
    if length + 100 > (4096 if os.name != "nt" else 260):  # PATH_MAX
        p.error(f"argument --out: the path is too long ({length} bytes) to hold the run's files")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        p.error(f"argument --out: {args.out!r} is a file, not a folder")
    # --restore with no folder is a missing checkpoint, reported as such later.
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


# --- main -----------------------------------------------------------------------
def say(line):
    """Print a line of the log at once, even into a pipe or a file."""
    try:
        print(line, flush=True)
    except BrokenPipeError:  # the reader went away (`| head`): finish the run, log to nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:
        raise UserError(f"cannot write the log to standard output: {exc.strerror or exc}") from None


def _open_std_streams():
    """A closed stdin, stdout or stderr (`>&-`) becomes /dev/null, as for a run with no terminal."""
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        if getattr(sys, name) is None:  # Python found the descriptor closed
            os.dup2(os.open(os.devnull, os.O_RDWR), fd)
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))


def main(argv=None):
    args = parse_args(argv)
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    results = None
    status = 0
    try:
        results = Results(args, log=say)
        with results:
            run(args, results)
    except UserError as exc:
        status = _fail(exc, exc.status)
    except Diverged as exc:
        status = _fail(f"{exc}; training stopped, no checkpoint written", 1)
    except OSError as exc:  # a full disk, a folder removed or locked mid-run
        status = _fail(f"cannot write the results to {args.out}: {exc}; earlier results there are untouched", 1)
    except Interrupted as exc:
        epoch = results.epoch if results else None
        where = "" if epoch is None else f" at epoch {epoch} of {args.epochs}"
        done = (f"the results were already written to {args.out}" if results and results.staging.committed
                else f"nothing written, earlier results in {args.out} untouched")
        status = _fail(f"interrupted by {signal.Signals(exc.signum).name}{where}; {done}", 128 + exc.signum)
    except Exception as exc:  # TensorFlow's own errors (an XLA compile failure, an op that cannot run)
        if not type(exc).__module__.startswith(("tensorflow", "keras")):
            raise
        hint = "" if args.no_xla else "; if XLA is the problem, run with --no-xla"
        status = _fail(f"TensorFlow failed: {type(exc).__name__}: {_first_line(exc)}{hint}", 1)
    finally:
        STATUS.clear()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return status


def _fail(message, status):
    STATUS.clear()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()  # the log's last lines before the error (may fail: a full or closed stdout)
    with contextlib.suppress(OSError, ValueError):
        print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    if "IPython" in sys.modules:  # `%run sine_wave.py` in a notebook: keep the kernel alive
        if status := main():
            raise SystemExit(status)
    else:
        _open_std_streams()
        STATUS.enabled = sys.stderr.isatty()
        status = main()
        # Everything is written and flushed; Python's teardown of TensorFlow (about a second) does nothing a
        # finished run needs: leave without it.
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)
