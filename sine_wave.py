"""TensorFlow and Recurrent Neural Networks (Maksim An, 2016-03-10), on today's TensorFlow.

The post's six code blocks in its order, under its names, computing what TF 0.7 computed; below the
fence, what the post does not have. README.md maps each block and lists every difference.
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

# import tensorflow as tf; import matplotlib.pylab as plt: each once, quietly, below the fence
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
# Reordered: block 5's read-out W, b is built here, as block 4 needs the output.
class LSTMCell:
    """rnn_cell.LSTMCell(num_hidden, seq_width, initializer=initializer) of TF 0.7 (no peepholes)."""

    def __init__(self, num_hidden, seq_width, initializer):
        # One matrix over [input, h_prev] for the gates i, j, f, o, from `initializer`; a zero bias;
        # 0.7's names (docs/tf07.md), kept in the checkpoint
        self.W = tf.Variable(initializer([seq_width + num_hidden, 4 * num_hidden]), name="RNN/LSTMCell/W_0")
        self.B = tf.Variable(tf.zeros([4 * num_hidden]), name="RNN/LSTMCell/B")
        self.num_hidden = num_hidden

    def zero_state(self):
        """cell.zero_state(1, tf.float32): c and h, both zeros."""
        return tf.zeros([1, self.num_hidden]), tf.zeros([1, self.num_hidden])


def rnn(cell, inputs, initial_state):
    """rnn(cell, inputs, initial_state): the cell over the steps in order; each step's h."""
    # Read once, outside the loop: its gradient keeps no copy per step (docs/performance.md)
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
    """The post's graph: the half as ONE sequence (batch 1) through the cell; output = outputs @ W + b."""

    def __init__(self, num_hidden=num_hidden, seq_width=seq_width, seed=seed):
        initializer = tf.random_uniform_initializer(-init_scale, init_scale, seed=seed)
        self.cell = LSTMCell(num_hidden, seq_width, initializer)
        # 0.7's tf.get_variable default, uniform_unit_scaling: U(+-sqrt(3 / fan_in)); b is random, not zero
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
    y = np.ravel(y)  # with the post's (N, 1) y, the padded list is ragged (README: differences)
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
def error(output, seq_target):
    # error = sqrt(sum((output - target)^2)): the L2 norm of the residual, not a mean
    return tf.sqrt(tf.reduce_sum(tf.square(output - seq_target)))


def make_train_op(net, optimizer, xla=True):
    """session.run([error, output, train_op]): one update; error and output from before it."""
    tvars = net.trainable_variables
    optimizer.build(tvars)  # Adam's moments made now, not in the first trace

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
    elif i > 50:  # never runs, nor the next: i > 50 took `if i > 25` (README: differences)
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
    ax.plot(x_test, test_outs, "r--", label="output, test half (y repeats: near the first)")
    ax.plot(x_test, test_target, "b-")
    ax.axvline(x_test[0], color="0.6", linewidth=0.8)
    ax.set_title("After training: the training half, then the test half")


def run(args, out):
    """The post, start to finish; `out` (below the fence) keeps each file until all move in."""
    xla = not args.no_xla
    # Post block 2: import tensorflow as tf, then x, y = gen_seq() (block 1), which plotted the sequence
    load_tensorflow(xla)
    x, y = gen_seq()
    out.figure("sequence.png", plot_sequence, x, y)
    plt.show()
    n_steps = len(x) // 2  # the post's len(x)/2 was Python 2 integer division
    net = Network(args.hidden, args.seq_width, args.seed)

    # Post block 4: inputs and targets of the training half (block 3's gen_inputs), and the output
    train_input, train_target = gen_inputs(y, n_steps, offset=0, seq_width=args.seq_width, lag=args.lag)
    # tf.initialize_all_variables() and tf.Session(): not needed, a TF 2 variable is ready when made
    feed = tf.constant(train_input, tf.float32), tf.constant(train_target, tf.float32)
    output = tf.function(net, jit_compile=xla, autograph=False)  # session.run(output, feed_dict=feed)
    if args.restore:  # the author's is_training = False: weights from the checkpoint, no training
        restore(checkpoint(net, args), args)
    else:
        net_outs = output(feed[0]).numpy()
        out.figure("sequence-and-network-output.png", plot_untrained, x[:n_steps], train_target, net_outs,
                   figsize=(12, 7))  # the post's wide figures
        plt.show()

        # Post block 5: the train ops
        optimizer = tf.keras.optimizers.Adam(learning_rate=0.0, epsilon=adam_epsilon)  # tf.train.AdamOptimizer(lr)
        lr = optimizer.learning_rate  # lr = tf.Variable(0., trainable=False, name='lr'): Adam's own variable
        train_op = make_train_op(net, optimizer, xla)

        # Post block 6: 100 epochs, then the checkpoint
        saver = checkpoint(net, args, optimizer)  # saver = tf.train.Saver()
        for i in range(args.epochs):
            new_lr = LR_SCHEDULES[args.lr_schedule](i)
            lr.assign(new_lr)  # session.run(tf.assign(lr, new_lr))
            err, net_outs = train_op(*feed)
            print('Epoch %d: %1.5f' % (i, err))
            out.epoch(i, err)  # not in the post: stop on a NaN
        out.save(saver, f"sine-wave-rnn-{args.hidden}-{args.seq_width}-0")  # saver.save(..., global_step=0)

    # Post block 6, continued: the trained network on both halves
    train_outs = output(feed[0]).numpy()
    test_input, test_target = gen_inputs(y, n_steps, offset=n_steps, seq_width=args.seq_width, lag=args.lag)
    test_outs = output(tf.constant(test_input, tf.float32)).numpy()  # the post ran `feed` here (README: differences)
    out.figure("training-complete.png", plot_training_complete, x[:n_steps], train_target, train_outs,
               x[n_steps:2 * n_steps], test_target, test_outs, figsize=(12, 7))

    # Not in the post: how good is it; then every file into place at once
    out.finish(y, train_input, train_target, train_outs, test_input, test_target, test_outs)
    plt.show()


# ===========================================================================
# Everything the post does not have: the plumbing, below this fence.
# ===========================================================================
import argparse, atexit, builtins, contextlib, hashlib, json, os, platform, shlex, shutil  # noqa
import signal, subprocess, sys, tempfile  # noqa
from pathlib import Path  # noqa

MAX_HIDDEN = 1024  # the largest tried; at 2048 the first gradient overflows (docs/performance.md)
SIGNALS = [getattr(signal, s) for s in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, s)]
cache = None  # a CompileCache, with XLA
signalled, holding = [], False  # each signal (kept if a finalizer loses its raise); held now?
# All a run writes but its checkpoint; earlier versions' two, known by their first bytes
RESULTS = {"sequence.png": b"", "sequence-and-network-output.png": b"", "training-complete.png": b"",
           "training-error.png": b"", "metrics.json": b"", "predictions.csv": b"x,half,target,prediction\n",
           "training.gif": b"GIF89a\x80\x02@\x01"}


class UserError(Exception):
    """A problem the user can fix: (message, exit status=1)."""


def first_line(exc):
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --- A quiet console
# TF's lines on a CPU-only machine at any TF_CPP_MIN_LOG_LEVEL, and loading a cached program
TF_NOISE = (r"All log messages before absl::InitializeLog|oneDNN custom operations"
            r"|Could not find cuda drivers|failed call to cuInit|cpu_feature_guard"
            r"|To enable the following instr|Unable to register cu(DNN|FFT|BLAS) factory"
            r"|computation placer already registered|TF-TRT Warning|XLA service .* initialized"
            r"|StreamExecutor (device )?[\[(]\d+[\])]: Host|Compiled cluster using XLA"
            r"|tensorflow.XlaSerializedCacheEntry|\+prefer-no-(scatter|gather) is not"
            r"|^mkdir -p failed for path .*matplotlib")  # Matplotlib's next line says what it did
# A helper process forwards the rest at once: a message outlives TF
FILTER = ("import re, sys\nfor line in sys.stdin.buffer:\n"
          "    if line.strip() and not re.search(sys.argv[1], line.decode(errors='replace')):\n"
          "        sys.stderr.buffer.write(line); sys.stderr.buffer.flush()\n")
XLA_COPY_FLAG = "--xla_cpu_copy_insertion_use_region_analysis=true"  # no copies of the sequence (docs/performance.md)


@contextlib.contextmanager
def quiet_stderr():
    """File descriptor 2 (TF's C++ lines) through FILTER."""
    sys.stderr.flush()
    child = subprocess.Popen([sys.executable, "-I", "-S", "-c", FILTER, TF_NOISE], stdin=subprocess.PIPE,
                             start_new_session=True)  # a terminal's Ctrl-C reaches the script alone
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


def print(line):  # the story's: flushed; a failure is a UserError
    if signalled:  # held during the move, or its raise lost in a finalizer
        raise KeyboardInterrupt(signalled[0])
    try:
        builtins.print(line, flush=True)
    except (OSError, ValueError) as exc:  # a full disk, | head, an unencodable --out
        raise UserError(f"cannot write the log to standard output: {getattr(exc, 'strerror', 0) or exc}") from None


def load_tensorflow(xla=False):
    """`import tensorflow as tf`, once; with `xla`, the compile cache, a first compile."""
    global tf, cache
    if tf is not None:
        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # errors only: the script reports failures
    os.environ["KERAS_BACKEND"] = "tensorflow"  # tf.keras's Adam, whatever keras.json says
    before = {name: os.environ.get(name) for name in ("XLA_FLAGS", "TF_XLA_FLAGS")}
    try:
        try:
            import tensorflow
            # Read as devices start (XLA_FLAGS at the first compile); TF < 2.19 aborts on it
            if xla and tuple(map(int, tensorflow.__version__.split(".")[:2])) >= (2, 19) and \
                    "region_analysis" not in os.environ.get("XLA_FLAGS", ""):
                os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {XLA_COPY_FLAG}"
            cache = CompileCache(tensorflow.__version__) if xla else None
            tensorflow.config.list_logical_devices()
        except Exception as exc:  # ImportError, or a broken install's
            raise UserError(f"cannot import TensorFlow ({type(exc).__name__}: {first_line(exc)}); "
                            "pip install -r requirements.txt") from None
        if xla:
            tensorflow.function(lambda: tensorflow.constant(1.0) + 1.0, jit_compile=True, autograph=False)()
            cache.fill()
    finally:
        for name, value in before.items():
            os.environ.pop(name, None) if value is None else os.environ.update({name: value})
    tensorflow.config.experimental.enable_op_determinism()
    tf = tensorflow
    return tf


def sha256(path, name):  # of the name too: TF reads an entry by it
    return hashlib.sha256(name.encode() + Path(path).read_bytes()).hexdigest()


class CompileCache:
    """XLA's programs kept between runs (README: the compile cache)."""

    def __init__(self, tf_version):
        self.run = None
        if "persistent_cache" in os.environ.get("TF_XLA_FLAGS", ""):
            return  # the user's, or none (an empty one)
        cpu = [line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")] \
            if os.path.exists("/proc/cpuinfo") else platform.processor()
        key = json.dumps([tf_version, platform.machine(), cpu, *map(os.environ.get, ("XLA_FLAGS", "TF_XLA_FLAGS"))])
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sine_wave")
        self.home = os.path.join(root, "xla-" + hashlib.sha256(key.encode()).hexdigest()[:16])
        with contextlib.suppress(OSError):
            os.makedirs(root, exist_ok=True)
            if shutil.disk_usage(root).free < 256 << 20:  # TF fails a compile it cannot save
                return
            self.run = tempfile.mkdtemp(prefix=".run-", dir=root)
            os.rmdir(self.run)  # TF makes it at its first save, once XLA read its flags (a bad one ends the run)
            atexit.register(shutil.rmtree, self.run, True)  # at exit: TF may write more
            os.environ["TF_XLA_FLAGS"] = f"{os.environ.get('TF_XLA_FLAGS', '')} --tf_xla_persistent_cache_directory={self.run}"

    def fill(self):  # after XLA's first compile: sound entries copied in for TF, others deleted
        for path in Path(self.home).glob("*.sha256-*") if self.run else ():
            name, digest = path.name.rsplit(".sha256-", 1)
            with contextlib.suppress(OSError):
                if sha256(path, name) == digest:  # a folder, unreadable: skipped
                    shutil.copyfile(path, os.path.join(self.run, name))
                else:
                    path.unlink()  # damaged: compiled anew

    def keep(self):  # the programs TF wrote, into the cache
        with contextlib.suppress(OSError):
            os.makedirs(self.home, exist_ok=True)
            for path in Path(self.run).glob("*.pb"):  # not a .tmp
                kept = os.path.join(self.home, f"{path.name}.sha256-{sha256(path, path.name)}")
                if not os.path.exists(kept):  # not one it read
                    os.replace(path, kept)


# --- Figures
def load_pyplot(show):
    global plt
    try:
        import matplotlib
        if not show:
            matplotlib.use("agg")
        import matplotlib.pyplot as plt
    except Exception as exc:  # a bad MPLBACKEND, say
        raise UserError(f"cannot load Matplotlib ({type(exc).__name__}: {first_line(exc)})") from None


def plot_training_error(ax, errors):
    ax.semilogy(range(len(errors)), errors, "b.-", label="error = sqrt(sum((output - target)^2))")
    ax.set(title=f"Training error per epoch, {len(errors)} epochs", xlabel="epoch", ylabel="error (log scale)")
    ax.yaxis.set_major_formatter("{x:g}")  # 40, not 4 x 10^1
    ax.yaxis.set_minor_formatter("{x:g}")


# --- Safe saving: all or nothing
def on_signal(signum, frame):
    """Each signal noted; the first raises KeyboardInterrupt, unless held."""
    signalled.append(signum)
    if len(signalled) == 1 and not holding:
        raise KeyboardInterrupt(signum)


def earlier(path, head):  # an earlier run's file: not a link, starting with `head`
    if os.path.isfile(path) and not os.path.islink(path):
        if not head:
            return True
        with open(path, "rb") as f:
            return f.read(len(head)) == head


fcntl = None if os.name == "nt" else __import__("fcntl")  # Windows: no lock (docs/robustness.md)


class Output:
    """Each file into a scratch folder in --out, all moved in once the run succeeds."""

    def __init__(self, args):
        self.args, self.dir, self.committed = args, None, False
        self.names, self.errors = [], []

    def path(self, name):
        if self.dir is None:  # at the first file, after TF (which can abort) loaded
            # TF's longest: NAME_temp/part-00000-of-00001.data-00000-of-00001.tempstate + 20 digits
            out, longest = self.args.out, checkpoint_name(self.args) + "-" * 75
            try:
                os.makedirs(out, exist_ok=True)
                self.dir = tempfile.mkdtemp(prefix=".sine_wave-", dir=out)
                open(self.path(longest), "w").close()
                os.remove(self.path(longest))
            except OSError as exc:
                raise UserError(f"argument --out: cannot write to {out!r} ({exc.strerror or exc})", 2) from None
        return os.path.join(self.dir, name)

    def figure(self, name, plot, *data, figsize=(8, 6)):
        fig = plt.figure(num=name, figsize=figsize, clear=True)
        ax = fig.subplots()
        plot(ax, *data)
        ax.set(xlabel=ax.get_xlabel() or "x", ylabel=ax.get_ylabel() or "y")
        fig.legend(loc="lower center", ncols=4, frameon=False)  # margins in inches: a layout engine is slower
        fig.subplots_adjust(0.8 / figsize[0], 1 / figsize[1], 1 - 0.3 / figsize[0], 1 - 0.45 / figsize[1])
        fig.savefig(self.path(name), dpi=100)
        if plt.get_backend().lower() == "agg":  # no window will show it: let it go
            plt.close(fig)
        self.names.append(name)

    def epoch(self, i, err):
        err = float(err)
        if not math.isfinite(err):
            raise UserError(f"the training error became {err} at epoch {i}; training stopped")
        self.errors.append(err)

    def save(self, saver, name):
        try:
            saver.write(self.path(name))
        except Exception as exc:  # TF's own: a full disk, say
            raise OSError(f"writing the checkpoint failed: {first_line(exc).split('}} ')[-1]}") from None  # no {{node}}
        self.names += [name + ".index", name + ".data-00000-of-00001"]

    def finish(self, y, *halves):
        if self.errors:
            self.figure("training-error.png", plot_training_error, self.errors)
        options = {**settings_of(self.args), "restored": self.args.restore, "xla": not self.args.no_xla}
        metrics = metrics_of(self.errors, options, y, *halves)
        print("\n".join(metrics_lines(metrics)))
        Path(self.path("metrics.json")).write_text(json.dumps(metrics, indent=2) + "\n")
        self.names.append("metrics.json")
        gone = self.commit()
        print(f"Wrote {os.path.join(self.args.out, '')}: {', '.join(self.names)}" +
              (f"; removed an earlier run's {', '.join(gone)}" if gone else ""))

    def commit(self):
        """New files in, an earlier run's others out; a failure puts all back; a signal waits."""
        global holding
        names = sorted(self.names, key=lambda n: n.endswith(".index"))  # .index, --restore's mark, last
        holding, moved, gone, lock = True, [], [], fcntl and os.open(self.args.out, os.O_RDONLY)
        try:
            if fcntl:
                fcntl.flock(lock, fcntl.LOCK_EX)  # one run at a time
            gone = [n for n in RESULTS if n not in names and earlier(os.path.join(self.args.out, n), RESULTS[n])]
            for name in gone + names:
                target = os.path.join(self.args.out, name)
                if os.path.lexists(target):
                    if not earlier(target, b""):
                        raise UserError(f"argument --out: {target} is not a file this script wrote; move it away", 2)
                    os.replace(target, self.path(name + ".old"))
                if name in names:
                    os.replace(self.path(name), target)
                    moved.append(target)
            self.committed = True
            shutil.rmtree(self.dir, ignore_errors=True)  # the earlier files with it
        except BaseException:
            for name in gone + names:  # what went in out, what was there back
                target = os.path.join(self.args.out, name)
                if target in moved:
                    os.remove(target)
                if os.path.exists(self.path(name + ".old")):
                    os.replace(self.path(name + ".old"), target)
            raise
        finally:
            if fcntl:
                os.close(lock)  # the lock with it
            holding = False
        return gone  # a signal held: the next print raises it


# --- Checkpoints and their settings
def settings_of(args):
    return {key: getattr(args, key) for key in ("hidden", "seq_width", "lag", "seed", "lr_schedule", "epochs")}


def checkpoint(net, args, optimizer=None):
    """tf.train.Saver(): the variables under 0.7's names, Adam's state, the run's settings."""
    settings = tf.Variable(json.dumps(settings_of(args), sort_keys=True), trainable=False)
    rnn = tf.train.Checkpoint(LSTMCell=tf.train.Checkpoint(W_0=net.cell.W, B=net.cell.B))
    return tf.train.Checkpoint(RNN=rnn, W=net.W, b=net.b, settings=settings, **({"optimizer": optimizer} if optimizer else {}))


def checkpoint_name(args):
    return f"sine-wave-rnn-{args.hidden}-{args.seq_width}-0"


def command(out, hidden, seq_width, lag, **_):
    return f"python sine_wave.py --out {shlex.quote(out)} --hidden {hidden} --seq-width {seq_width} --lag {lag}"


def checkpoint_settings(args):
    """The settings --restore loads, or a UserError saying why not."""
    prefix, key = os.path.join(args.out, checkpoint_name(args)), "settings/.ATTRIBUTES/VARIABLE_VALUE"
    if not os.path.exists(prefix + ".index"):
        raise UserError(f"no checkpoint at {prefix}.index; create it with: {command(**vars(args))}")
    load_tensorflow(not args.no_xla)
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = reader.get_variable_to_shape_map()
        settings = json.loads(reader.get_tensor(key).decode()) if key in names else None
    except Exception as exc:  # several kinds: a damaged file
        raise UserError(f"cannot read checkpoint {prefix}: {first_line(exc)}") from None
    if settings is None or "RNN/LSTMCell/W_0/.ATTRIBUTES/VARIABLE_VALUE" not in names:
        raise UserError(f"checkpoint {prefix} is not this version's; train it again with: {command(**vars(args))}")
    if [settings[k] for k in ("hidden", "seq_width", "lag")] != [args.hidden, args.seq_width, args.lag]:
        raise UserError(f"checkpoint {prefix} was trained with other settings; named "
                        f"{checkpoint_name(argparse.Namespace(**settings))}, it works with: {command(args.out, **settings)} --restore")
    return settings


def restore(saver, args):
    """saver.restore(session, ...): the weights, not Adam's state."""
    prefix = os.path.join(args.out, checkpoint_name(args))
    try:
        saver.read(prefix).expect_partial()
    except Exception as exc:
        raise UserError(f"cannot read checkpoint {prefix}: {first_line(exc)}") from None


# --- How good is it: the test half against simple predictors
def metrics_of(errors, options, y, train_input, train_target, train_outs, test_input, test_target, test_outs):
    # Rows with a target in y, not gen_inputs' zeros
    target, n = np.ravel(test_target), len(y) - (len(train_input) + options["seq_width"] + options["lag"])
    # Baselines: zero, and a least-squares linear map of the window
    ones = np.ones((len(train_input), 1))  # both halves have n_steps rows
    coef = np.linalg.lstsq(np.hstack([train_input, ones]), np.ravel(train_target), rcond=None)[0]
    preds = {"lstm": np.ravel(test_outs), "zero": 0 * target, "linear": np.hstack([test_input, ones]) @ coef}
    final_error = float(np.sqrt(np.sum((np.ravel(train_outs) - np.ravel(train_target)) ** 2)))
    return {
        "train_error": errors[-1] if errors else final_error,
        "final_train_error": final_error,
        "test_rmse": {k: float(np.sqrt(np.mean((p[:n] - target[:n]) ** 2))) for k, p in preds.items()},
        "test_positions": n,
        "epochs": len(errors),
        "options": options,
    }


def metrics_lines(m):
    which = "trained" if m["options"]["epochs"] else "untrained"
    last = f" (the log's last epoch, {m['train_error']:.5f}, is from before its update)" if m["epochs"] else ""
    yield f"\nTraining error (the post's sqrt of sum of squares) of the {which} network: {m['final_train_error']:.5f}{last}"
    yield f"Test RMSE over the {m['test_positions']} test positions with a real target:"
    for key, label in ("lstm", "LSTM (this network)"), ("zero", "always zero"), ("linear", "linear map, least squares"):
        yield f"  {label:<28}{m['test_rmse'][key]:>9.5f}"
    yield "(y repeats every 2 pi: each test window nearly repeats a training one, so this measures fit)\n"


# --- The command line and main
def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="sine_wave.py", description="The LSTM of 'TensorFlow and Recurrent Neural Networks'.")
    p.error = lambda message: p.exit(2, f"{p.prog}: error: {message} (see --help)\n")  # one line, no usage block
    add = p.add_argument
    add("--epochs", type=int, default=epochs, help="training updates; 0 saves the untrained network (%(default)s)")
    add("--hidden", type=int, default=num_hidden, help=f"LSTM units, num_hidden, 1 to {MAX_HIDDEN} (%(default)s)")
    add("--seq-width", type=int, default=seq_width, help="values in each input window, seq_width (%(default)s)")
    add("--lag", type=int, default=lag, help="steps past the window's end to the target (%(default)s)")
    add("--seed", type=int, default=seed, help="same seed, same log (%(default)s)")
    add("--lr-schedule", choices=sorted(LR_SCHEDULES), default="as-written",
        help="as-written (the default): 1e-2, then 5e-3, as the post's chain ran; stepped: as it was meant")
    add("--out", default="output", help="folder for all the run writes (%(default)s)")
    add("--no-show", action="store_true", help="open no windows (each waits to be closed)")
    add("--restore", action="store_true", help="predict with the saved checkpoint instead of training")
    add("--no-xla", action="store_true", help="run the step as a plain tf.function, without XLA")
    args = p.parse_args(argv)
    for name, low, high in ("epochs", 0, None), ("hidden", 1, MAX_HIDDEN), ("seq_width", 1, None), ("lag", 0, None), \
            ("seed", 0, 2**32 - 1):
        if not low <= (value := getattr(args, name)) <= (high or value):
            p.error(f"argument --{name.replace('_', '-')}: expected {f'{low} to {high}' if high else f'{low} or more'}, "
                    f"got {value}")
    length = len(gen_seq()[0])
    most = length - length // 2 - 1  # the first test target y[n_steps + seq_width + lag] must exist
    if args.lag + args.seq_width > most:
        p.error(f"argument --lag/--seq-width: --lag {args.lag} plus --seq-width {args.seq_width} is "
                f"{args.lag + args.seq_width}; at most {most} leaves the test half a real target")
    if not args.out or os.path.lexists(args.out) and not os.path.isdir(args.out):
        p.error(f"argument --out: {args.out!r} is not a folder")
    if args.out.encode(errors="replace").decode() != args.out:  # surrogates: not UTF-8
        p.error(f"argument --out: {ascii(args.out)} is not UTF-8, as TensorFlow's file functions need")
    for name in "XLA_FLAGS", "TF_XLA_FLAGS":  # XLA takes anything else for a file name
        if os.environ.get(name, "-").strip()[:1] not in "-":
            p.error(f"{name}={os.environ[name]!r} is not flags (--name=value)")
    return args


def main(argv=None):
    """Run the post; return the exit status."""
    args = parse_args(argv)
    global holding
    hook, holding = sys.unraisablehook, False
    signalled.clear()
    previous = {s: signal.signal(s, on_signal) for s in SIGNALS if signal.getsignal(s) != signal.SIG_IGN}  # nohup's SIG_IGN stays
    sys.unraisablehook = lambda u: isinstance(u.exc_value, KeyboardInterrupt) or hook(u)  # on_signal's, in a finalizer
    out, code = Output(args), 0
    try:
        with quiet_stderr():
            if args.restore:  # its settings, in effect from now, before anything is made
                vars(args).update(checkpoint_settings(args))
                print(f"Restoring {checkpoint_name(args)}, trained with --seed {args.seed} --lr-schedule "
                      f"{args.lr_schedule} --epochs {args.epochs}")
            load_pyplot(show=not args.no_show)
            run(args, out)
    except UserError as exc:
        code = fail(exc.args[0], out, *exc.args[1:])
    except OSError as exc:  # a full disk, --out removed mid-run
        code = fail(f"cannot write the results to {args.out}: {exc}", out)
    except KeyboardInterrupt:  # on_signal's, or a notebook's own
        signalled.append(signal.SIGINT)
    except Exception as exc:  # TensorFlow's own (an XLA compile failure, say)
        if not type(exc).__module__.startswith(("tensorflow", "keras")):
            raise
        hint = "" if args.no_xla else "; --no-xla may help"
        code = fail(f"TensorFlow failed: {type(exc).__name__}: {first_line(exc)}{hint}", out)
    finally:
        holding = True  # the clean-up is not cut short
        if out.dir:
            shutil.rmtree(out.dir, ignore_errors=True)
        if cache and cache.run:
            cache.keep()
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.unraisablehook = hook
    if signalled and not code:  # one held, or whose raise was lost
        training = len(out.names) > 1 and not (args.restore or out.committed)  # past the untrained figure
        where = f" after {len(out.errors)} of {args.epochs} epochs" if training else ""
        code = fail(f"interrupted by {signal.Signals(signalled[0]).name}{where}", out, 128 + signalled[0])
    return code


def fail(message, out, code=1):
    if out.committed:
        message += f"; the results were already written to {out.args.out}"
    elif out.dir:
        message += f"; nothing written, earlier results in {out.args.out} untouched"
    with contextlib.suppress(OSError, ValueError):
        builtins.print(f"sine_wave.py: error: {message}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    if "IPython" in sys.modules:  # `%run sine_wave.py`: keep the kernel alive
        code = main()
        del print  # %run gives the notebook this namespace
        if code:
            raise SystemExit(code)
    else:
        for fd, name in enumerate(("stdin", "stdout", "stderr")):  # a closed one (`>&-`): /dev/null
            if getattr(sys, name) is None:
                os.dup2(os.open(os.devnull, os.O_RDWR), fd)
                setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))
        code = main()
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        atexit._run_exitfuncs()  # Matplotlib's clean-up among them; skip TF's teardown (a second)
        os._exit(code)
