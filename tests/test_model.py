"""The network, the step and the learning rate, against TF 0.7's definitions.

Independent references, in NumPy: 0.7's LSTMCell forward and its backward pass through time,
`clip_by_global_norm(..., 5.)`, one step of 0.7's Adam (epsilon 1e-8), and the post's
learning-rate chain written out literally. What 0.7 computed, with the 0.7 source lines it rests
on: docs/tf07.md.
"""

import math
import re
import types

import numpy as np
import pytest
from conftest import POST_CHAIN

import sine_wave
from sine_wave import Network, gen_inputs, gen_seq, make_train_op


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def tf07_lstm(inputs, matrix, bias, num_hidden):
    """TF 0.7's rnn_cell.LSTMCell (no peepholes) in NumPy: one matrix over [input, h_prev]."""
    c, h, hs = np.zeros(num_hidden), np.zeros(num_hidden), []
    for x_t in inputs:
        i, j, f, o = np.split(np.concatenate([x_t, h]) @ matrix + bias, 4)
        c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
    return np.array(hs)


def tf07_error_and_gradients(seq_input, seq_target, M, B, W, b):
    """The post's error, sqrt(sum((output - target)^2)), its output, and the gradients of the
    error with respect to M, B, W, b: the 0.7 cell run forward, then back through time by hand."""
    hidden = W.shape[0]
    c, h = np.zeros(hidden), np.zeros(hidden)
    rows, gates, cs, hs = [], [], [np.zeros(hidden)], []
    for x_t in seq_input:
        row = np.concatenate([x_t, h])
        i, j, f, o = np.split(row @ M + B, 4)
        i, j, f, o = sigmoid(i), np.tanh(j), sigmoid(f + 1.0), sigmoid(o)
        c = f * c + i * j
        h = o * np.tanh(c)
        rows.append(row), gates.append((i, j, f, o)), cs.append(c), hs.append(h)
    H = np.array(hs)
    output = H @ W + b
    residual = output - seq_target
    error = math.sqrt(np.sum(residual**2))
    d_output = residual / error
    d_H = d_output @ W.T
    d_z = np.zeros((len(rows), 4 * hidden))
    d_h_next, d_c_next = np.zeros(hidden), np.zeros(hidden)
    for t in reversed(range(len(rows))):
        i, j, f, o = gates[t]
        d_h = d_H[t] + d_h_next
        tanh_c = np.tanh(cs[t + 1])
        d_c = d_c_next + d_h * o * (1 - tanh_c**2)
        d_z[t] = np.concatenate(
            [
                d_c * j * i * (1 - i),
                d_c * i * (1 - j**2),
                d_c * cs[t] * f * (1 - f),
                d_h * tanh_c * o * (1 - o),
            ]
        )
        d_h_next = M[len(rows[t]) - hidden :] @ d_z[t]
        d_c_next = d_c * f
    grads = [np.array(rows).T @ d_z, d_z.sum(0), H.T @ d_output, d_output.sum(0)]
    return error, output, grads


def tf07_clip_and_adam(weights, grads, state, lr, epsilon=1e-8, b1=0.9, b2=0.999):
    """clip_by_global_norm(grads, 5.), then 0.7's AdamOptimizer update; `state` is (t, m, v)."""
    norm = math.sqrt(sum(np.sum(g * g) for g in grads))
    grads = [g * 5.0 / max(norm, 5.0) for g in grads]
    t, m, v = state
    t += 1
    m = [b1 * m_ + (1 - b1) * g for m_, g in zip(m, grads)]
    v = [b2 * v_ + (1 - b2) * g * g for v_, g in zip(v, grads)]
    lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    new = [w - lr_t * m_ / (np.sqrt(v_) + epsilon) for w, m_, v_ in zip(weights, m, v)]
    return new, (t, m, v), norm


def post_chain(i):
    """The post's learning-rate code, exactly as written (conftest.POST_CHAIN), run for epoch i."""
    scope = {"i": i}
    exec(POST_CHAIN, scope)
    return scope["new_lr"]


def meant_chain(i):
    """What the chain was evidently meant to do: each step in turn."""
    if i > 75:
        return 1e-5
    if i > 50:
        return 1e-4
    if i > 25:
        return 5e-3
    return 1e-2


@pytest.fixture(scope="module")
def feed(tf):
    x, y = gen_seq()
    seq_input, seq_target = gen_inputs(y, len(x) // 2, 0)
    return tf.constant(seq_input, tf.float32), tf.constant(seq_target, tf.float32)


def run_story(tf, monkeypatch, capsys, tmp_path, *args, fake_step=None):
    """sine_wave.main(ARGS) in this process, recording the optimizer the story builds and, for
    each step, the value of the optimizer's rate variable, the variables before it and what it
    returned. `fake_step(k)` stands in for the compiled step: it returns the error of step k."""
    seen = types.SimpleNamespace(optimizers=[], steps=[], calls=[])

    class AdamOptimizer(tf.compat.v1.train.AdamOptimizer):
        def __init__(self, *args, **kwargs):
            rate = args[0] if args else kwargs.get("learning_rate")
            seen.optimizers.append((self, args, kwargs, float(rate.numpy())))
            super().__init__(*args, **kwargs)

    def recording_make_train_op(net, optimizer, xla=True):
        step = real_make_train_op(net, optimizer, xla)
        seen.steps.append(types.SimpleNamespace(net=net, optimizer=optimizer, xla=xla, step=step))
        lr = seen.optimizers[-1][1][0]

        def train_op(seq_input, seq_target):
            before = [v.numpy() for v in net.trainable_variables]
            if fake_step:
                err, output = tf.constant(fake_step(len(seen.calls))), tf.zeros(seq_target.shape)
            else:
                err, output = step(seq_input, seq_target)
            call = dict(lr=float(lr.numpy()), before=before, error=float(err), output=output)
            seen.calls.append(types.SimpleNamespace(**call))
            return err, output

        return train_op

    real_make_train_op = sine_wave.make_train_op
    monkeypatch.setattr(tf.compat.v1.train, "AdamOptimizer", AdamOptimizer)
    monkeypatch.setattr(sine_wave, "make_train_op", recording_make_train_op)
    capsys.readouterr()
    seen.code = sine_wave.main(["--no-show", "--out", str(tmp_path), *map(str, args)])
    seen.stdout = capsys.readouterr().out
    seen.log = [line for line in seen.stdout.splitlines() if line.startswith("Epoch")]
    return seen


def test_initial_weights_are_tf07s(tf):
    for num_hidden, seq_width in [(10, 10), (32, 3)]:
        net = Network(num_hidden, seq_width, seed=1)
        M, B = net.cell.W.numpy(), net.cell.B.numpy()
        assert M.shape == (seq_width + num_hidden, 4 * num_hidden)  # one matrix over [input, h]
        assert 0.08 < np.abs(M).max() <= 0.1 and abs(M.mean()) < 0.02  # U(-0.1, 0.1), not Glorot
        np.testing.assert_array_equal(B, 0.0)  # the forget gate's 1 is added inside the cell
        W, b = net.W.numpy(), net.b.numpy()
        assert W.shape == (num_hidden, 1) and b.shape == (1,)
        assert 0.5 * math.sqrt(3 / num_hidden) < np.abs(W).max() <= math.sqrt(3 / num_hidden)
        assert abs(b[0]) <= math.sqrt(3) and b[0] != 0.0  # uniform_unit_scaling: a random bias
        assert [v.shape for v in net.trainable_variables] == [M.shape, B.shape, W.shape, b.shape]


def test_weights_differ_by_seed_and_repeat_by_seed(tf):
    a, b, c = Network(seed=1), Network(seed=1), Network(seed=2)
    for x, y in zip(a.trainable_variables, b.trainable_variables):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert not np.array_equal(a.cell.W.numpy(), c.cell.W.numpy())
    assert not np.array_equal(a.W.numpy(), c.W.numpy())


def test_network_output_is_tf07_lstm_then_W_b(tf, feed):
    net = Network(seed=3)
    rng = np.random.default_rng(0)
    for v in (net.cell.W, net.cell.B):  # off the initial weights: every gate and the bias matter
        v.assign(v.numpy() + rng.normal(0, 0.2, v.shape).astype(np.float32))
    inputs = feed[0].numpy()[:200].astype(np.float64)
    hs = tf07_lstm(inputs, net.cell.W.numpy(), net.cell.B.numpy(), 10)
    want = hs @ net.W.numpy() + net.b.numpy()
    got = net(feed[0][:200]).numpy()
    assert got.shape == (200, 1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_the_reference_gradients_are_the_errors_slopes():
    """The NumPy backward pass below is itself checked: against central differences."""
    rng = np.random.default_rng(2)
    width, hidden, steps = 3, 4, 12
    x, target = rng.normal(size=(steps, width)), rng.normal(size=(steps, 1))
    weights = [
        rng.normal(0, 0.5, (width + hidden, 4 * hidden)),
        rng.normal(0, 0.5, 4 * hidden),
        rng.normal(0, 0.5, (hidden, 1)),
        rng.normal(0, 0.5, 1),
    ]
    error, output, grads = tf07_error_and_gradients(x, target, *weights)
    assert output.shape == (steps, 1) and error == pytest.approx(np.linalg.norm(output - target))
    np.testing.assert_allclose(
        tf07_lstm(x, weights[0], weights[1], hidden) @ weights[2] + weights[3], output
    )
    for w, g in zip(weights, grads):
        assert g.shape == w.shape
        for index in np.ndindex(w.shape):
            slopes = []
            for h in (1e-6, -1e-6):
                w[index] += h
                slopes.append(tf07_error_and_gradients(x, target, *weights)[0])
                w[index] -= h
            assert g[index] == pytest.approx((slopes[0] - slopes[1]) / 2e-6, rel=1e-5, abs=1e-8)


def test_the_story_builds_the_posts_optimizer_and_rate_each_epoch(
    tf, monkeypatch, capsys, tmp_path
):
    """Both schedules, 80 epochs (past 75, the chain's last branch), a stand-in for the step: the
    story's own `lr`, given to AdamOptimizer alone, holds the post's chain's rate at every step."""
    for schedule, chain in (("as-written", post_chain), ("stepped", meant_chain)):
        out = tmp_path / schedule
        seen = run_story(
            tf, monkeypatch, capsys, out, "--epochs", 80, "--lr-schedule", schedule,
            fake_step=lambda k: 100.0 / (k + 1),
        )  # fmt: skip
        assert seen.code == 0
        ((optimizer, args, kwargs, initial),) = seen.optimizers  # one optimizer: AdamOptimizer(lr)
        (lr,) = args
        assert optimizer in (s.optimizer for s in seen.steps)  # the one the step applies
        assert kwargs == {}  # 0.7's defaults: epsilon 1e-8 (checked by number in the next test)
        assert isinstance(lr, tf.Variable) and lr.name == "lr:0" and not lr.trainable
        assert initial == 0.0 and lr.dtype == tf.float32  # tf.Variable(0., ...)
        assert [call.lr for call in seen.calls] == pytest.approx([chain(i) for i in range(80)])
        # The post's print, in the post's format, once per epoch
        assert seen.log == ["Epoch %d: %1.5f" % (i, 100.0 / (i + 1)) for i in range(80)]
    # As written, the chain never leaves 5e-3; as meant, it does
    assert {post_chain(i) for i in range(100)} == {1e-2, 5e-3}
    edges = (25, 26, 50, 51, 75, 76)
    assert [meant_chain(i) for i in edges] == [1e-2, 5e-3, 5e-3, 1e-4, 1e-4, 1e-5]


def test_each_step_is_tf07s_error_clip_and_adam_with_epsilon_1e8(tf, monkeypatch, capsys, tmp_path):
    """The story's own compiled step, 30 epochs (the rate halves after epoch 25), each checked on
    its own against NumPy: from the variables before it, the error and output it returns and the
    update it makes, with Adam's moments built from the NumPy gradients."""
    epochs = 30
    # As after an earlier run in this process (a notebook's second %run; seeds.py): slots made
    # under the same names, so this run's are numbered on
    earlier = tf.Variable(tf.zeros([1]), name="RNN/LSTMCell/W_0")
    tf.compat.v1.train.AdamOptimizer(0.1).apply_gradients([(tf.ones([1]), earlier)])
    seen = run_story(tf, monkeypatch, capsys, tmp_path, "--epochs", epochs)
    assert seen.code == 0
    (made,) = seen.steps
    assert made.xla
    # 0.7's names (docs/tf07.md): two slots a variable, the betas' powers; a process's later runs
    # number them on (W_0/Adam_2, W_0/Adam_3), as TF 1 does in one graph
    tvars = ["RNN/LSTMCell/W_0", "RNN/LSTMCell/B", "W", "b"]
    names = sorted(re.sub(r"(_\d+)?:0$", "", v.name) for v in made.optimizer.variables())
    assert names == sorted([f"{v}/Adam" for v in tvars] * 2 + ["beta1_power", "beta2_power"])
    assert [v.name for v in made.net.trainable_variables] == [f"{v}:0" for v in tvars]
    x, y = gen_seq()
    seq_input, seq_target = gen_inputs(y, len(x) // 2, 0)
    after = [c.before for c in seen.calls[1:]] + [[v.numpy() for v in made.net.trainable_variables]]
    zeros = [np.zeros(w.shape) for w in seen.calls[0].before]
    state = {1e-8: (0, zeros, zeros), 1e-7: (0, zeros, zeros)}
    worst = {1e-8: 0.0, 1e-7: 0.0}
    norms = []
    assert len(seen.calls) == epochs
    for i, (call, got) in enumerate(zip(seen.calls, after)):
        assert call.lr == pytest.approx(post_chain(i), rel=1e-7)  # a float32 variable
        before = [w.astype(np.float64) for w in call.before]
        error, output, grads = tf07_error_and_gradients(seq_input, seq_target, *before)
        assert call.error == pytest.approx(error, rel=1e-5)  # the error from before the update
        np.testing.assert_allclose(call.output.numpy(), output, rtol=1e-4, atol=1e-4)
        for epsilon in state:
            want, state[epsilon], norm = tf07_clip_and_adam(
                before, grads, state[epsilon], call.lr, epsilon
            )
            # The update as a fraction of the step's size (lr): 0 when they agree
            off = max(np.max(np.abs((g - w) - (n - w))) for g, n, w in zip(got, want, before))
            worst[epsilon] = max(worst[epsilon], off / call.lr)
        norms.append(norm)
    assert min(norms[:5]) > 5.0 and min(norms) < 5.0  # the clip both bit and let through
    assert worst[1e-8] < 1e-3, worst
    assert worst[1e-7] > 1e-2, worst  # the check tells 0.7's epsilon from Keras' 1e-7
    assert seen.log == ["Epoch %d: %1.5f" % (i, c.error) for i, c in enumerate(seen.calls)]
    # Two traces for all 30 steps: the first makes Adam's slots, as 0.7's apply_gradients did, and
    # tf.function traces again without making them; no epoch traces anew
    assert made.step.experimental_get_tracing_count() == 2


def test_xla_and_plain_steps_agree_and_no_epoch_traces_anew(tf, feed):
    """The story's step built as run() builds it, with and without XLA: the same five epochs."""
    runs = {}
    for xla in (True, False):
        net = Network(seed=6)
        lr = tf.Variable(0.0, trainable=False, name="lr")
        step = make_train_op(net, tf.compat.v1.train.AdamOptimizer(lr), xla)
        errors = []
        for i in range(5):
            lr.assign(post_chain(i))
            errors.append(float(step(*feed)[0]))
        runs[xla] = errors
        assert step.experimental_get_tracing_count() == 2  # the first call's two: none after
    assert runs[True][0] > runs[True][-1]  # it trained
    np.testing.assert_allclose(runs[True], runs[False], rtol=1e-4)


def test_a_non_finite_error_stops_training_at_its_epoch_and_frames_are_every_4th(tf, tmp_path):
    argv = ["--no-show", "--epochs", "10", "--out", str(tmp_path)]
    with sine_wave.Signals() as signals:
        out = sine_wave.Output(sine_wave.parse_args([*argv, "--animate"]))
        out.signals = signals
        for i in range(10):
            out.epoch(i, tf.constant(10.0 - i), tf.fill((628, 1), float(i)))
        assert out.errors == [10.0 - i for i in range(10)]
        # --animate: a frame every 4 epochs and the last, each the output of its epoch
        assert [i for i, _ in out.frames] == [0, 4, 8, 9]
        assert [float(outs[0, 0]) for _, outs in out.frames] == [0.0, 4.0, 8.0, 9.0]
        out = sine_wave.Output(sine_wave.parse_args(argv))
        out.signals = signals
        out.epoch(0, tf.constant(3.0), tf.zeros((628, 1)))
        out.epoch(1, tf.constant(2.0), tf.zeros((628, 1)))
        with pytest.raises(sine_wave.UserError, match="became nan at epoch 2; training stopped"):
            out.epoch(2, tf.constant(float("nan")), tf.zeros((628, 1)))
    assert out.errors == [3.0, 2.0] and out.frames == []  # no --animate, no frames
    assert list(tmp_path.iterdir()) == []  # nothing written: the scratch folder comes at a file
