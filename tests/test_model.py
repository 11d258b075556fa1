"""The network, error, learning rate and training step, against TF 0.7's definitions.

Independent references: a NumPy transcription of 0.7's LSTMCell, Keras' own LSTM layer given the same
weights, the post's literal learning-rate chain, and Adam written out in NumPy. What 0.7 computed, with
the 0.7 source lines it rests on: docs/tf07.md.
"""

import math
import os

import numpy as np
import pytest

import sine_wave
from sine_wave import Network, error, gen_inputs, gen_seq, learning_rate, make_train_op, stepped_learning_rate


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def tf07_lstm(inputs, matrix, bias, num_hidden):
    """TF 0.7's rnn_cell.LSTMCell (no peepholes), transcribed in NumPy: one matrix over [input, h_prev]."""
    c, h, hs = np.zeros(num_hidden), np.zeros(num_hidden), []
    for x_t in inputs:
        i, j, f, o = np.split(np.concatenate([x_t, h]) @ matrix + bias, 4)
        c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
    return np.array(hs)


@pytest.fixture(scope="module")
def feed(tf):
    x, y = gen_seq()
    seq_input, seq_target = gen_inputs(y, len(x) // 2, 0)
    return tf.constant(seq_input, tf.float32), tf.constant(seq_target, tf.float32)


def adam(net, lr=0.0):
    return sine_wave.tf.keras.optimizers.Adam(learning_rate=lr, epsilon=sine_wave.adam_epsilon)


def test_initial_weights_are_tf07s(tf):
    for num_hidden, seq_width in [(10, 10), (32, 3)]:
        net = Network(num_hidden, seq_width, seed=1)
        M, B = net.cell.W.numpy(), net.cell.B.numpy()
        assert M.shape == (seq_width + num_hidden, 4 * num_hidden)  # one matrix over [input, h]
        assert 0.08 < np.abs(M).max() <= 0.1 and abs(M.mean()) < 0.02  # U(-0.1, 0.1), not Glorot
        np.testing.assert_array_equal(B, 0.0)  # the forget gate's 1 is added inside the cell, as in 0.7
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
    for v in (net.cell.W, net.cell.B):  # away from the initial weights, so every gate and the bias matter
        v.assign(v.numpy() + rng.normal(0, 0.2, v.shape).astype(np.float32))
    hs = tf07_lstm(feed[0].numpy()[:200].astype(np.float64), net.cell.W.numpy(), net.cell.B.numpy(), 10)
    want = hs @ net.W.numpy() + net.b.numpy()
    got = net(feed[0][:200]).numpy()
    assert got.shape == (200, 1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def keras_twin(tf, net):
    """Keras' LSTM layer holding the same weights: its kernels split [x; h] rows, gates i, f, c, o, +1 in the bias."""
    import keras

    hidden = net.cell.num_hidden
    lstm = keras.layers.LSTM(hidden, return_sequences=True, unit_forget_bias=True)
    lstm.build((1, None, net.cell.W.shape[0] - hidden))
    i, j, f, o = np.split(net.cell.W.numpy(), 4, axis=1)
    bi, bj, bf, bo = np.split(net.cell.B.numpy(), 4)
    M = np.hstack([i, f, j, o])
    lstm.set_weights([M[:-hidden], M[-hidden:], np.concatenate([bi, bf + 1.0, bj, bo])])
    W, b = tf.Variable(net.W), tf.Variable(net.b)

    class Twin:
        trainable_variables = [*lstm.trainable_variables, W, b]

        def __call__(self, seq_input):
            return lstm(seq_input[None])[0] @ W + b

    return Twin()


def test_ten_epochs_equal_keras_lstm_from_the_same_weights(tf, feed):
    """Same model, another order of float operations: the first ten epochs agree within 1e-5 relative."""
    runs = []
    for twin in (False, True):
        net = Network(seed=4)
        model = keras_twin(tf, net) if twin else net
        optimizer = adam(model)
        step = make_train_op(model, optimizer)
        errors = []
        for i in range(10):
            optimizer.learning_rate.assign(learning_rate(i))
            errors.append(float(step(*feed)[0]))
        runs.append(errors)
    assert runs[0][-1] < runs[0][0]  # it trained
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-5)


def test_error_is_the_l2_norm_of_the_residual(tf):
    rng = np.random.default_rng(1)
    out, target = rng.normal(size=(628, 1)), rng.normal(size=(628, 1))
    got = float(error(tf.constant(out), tf.constant(target)))
    assert got == pytest.approx(np.linalg.norm(out - target), rel=1e-12)


def post_chain(i):
    """The post's learning-rate code, exactly as written."""
    new_lr = 1e-2
    if i > 25:
        new_lr = 5e-3
    elif i > 50:
        new_lr = 1e-4
    elif i > 75:
        new_lr = 1e-5
    return new_lr


def meant_chain(i):
    """What the chain was evidently meant to do."""
    return 1e-5 if i > 75 else 1e-4 if i > 50 else 5e-3 if i > 25 else 1e-2


def test_learning_rate_schedules_epoch_by_epoch():
    for i in range(120):
        assert learning_rate(i) == sine_wave.LR_SCHEDULES["as-written"](i) == post_chain(i)
        assert stepped_learning_rate(i) == sine_wave.LR_SCHEDULES["stepped"](i) == meant_chain(i)
    assert {learning_rate(i) for i in range(100)} == {1e-2, 5e-3}
    assert [stepped_learning_rate(i) for i in (25, 26, 50, 51, 75, 76)] == [1e-2, 5e-3, 5e-3, 1e-4, 1e-4, 1e-5]


def test_the_story_sets_the_rate_before_every_step_and_logs_each_epoch(tf, tmp_path, monkeypatch, capsys):
    seen = []

    def fake_train_op(net, optimizer, xla=True):
        def train_op(seq_input, seq_target):
            seen.append(float(optimizer.learning_rate.numpy()))
            return tf.constant(100.0 / len(seen)), tf.zeros((628, 1))
        return train_op

    monkeypatch.setattr(sine_wave, "make_train_op", fake_train_op)
    assert sine_wave.main(["--no-show", "--epochs", "80", "--lr-schedule", "stepped", "--out", str(tmp_path)]) == 0
    assert seen == pytest.approx([meant_chain(i) for i in range(80)])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch")]
    assert lines == ["Epoch %d: %1.5f" % (i, 100.0 / (i + 1)) for i in range(80)]  # the post's format


def test_a_non_finite_error_stops_training_at_its_epoch(tf, tmp_path):
    args = sine_wave.parse_args(["--no-show", "--epochs", "10", "--out", str(tmp_path)])
    out = sine_wave.Output(args)
    out.epoch(0, tf.constant(3.0))
    out.epoch(1, tf.constant(2.0))
    with pytest.raises(sine_wave.UserError, match="became nan at epoch 2; training stopped"):
        out.epoch(2, tf.constant(float("nan")))
    assert out.errors == [3.0, 2.0]
    assert os.listdir(tmp_path) == []  # nothing written: the scratch folder is made at the first file


def test_one_step_is_clip_then_adam_with_tf07_epsilon(tf, feed):
    net = Network(seed=5)
    optimizer = adam(net)
    assert optimizer.epsilon == 1e-8
    tvars = net.trainable_variables
    before = [v.numpy().astype(np.float64) for v in tvars]
    with tf.GradientTape() as tape:
        err_before = error(net(feed[0]), feed[1])
    grads = [g.numpy().astype(np.float64) for g in tape.gradient(err_before, tvars)]
    norm = math.sqrt(sum(np.sum(g * g) for g in grads))
    assert norm > 5.0  # so the clipping below is really exercised
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    want = []
    for w, g in zip(before, grads):
        g = g * 5.0 / max(norm, 5.0)
        m, v = (1 - b1) * g, (1 - b2) * g * g
        want.append(w - lr * math.sqrt(1 - b2) / (1 - b1) * m / (np.sqrt(v) + eps))
    optimizer.learning_rate.assign(lr)
    err, output = make_train_op(net, optimizer, xla=False)(*feed)
    assert float(err) == pytest.approx(float(err_before), rel=1e-5)  # the error from before the update
    assert output.shape == (628, 1)
    for got, w in zip(tvars, want):
        np.testing.assert_allclose(got.numpy(), w, rtol=1e-4, atol=1e-6)


def test_xla_and_plain_steps_agree_and_each_is_traced_once(tf, feed):
    x, y = gen_seq()
    test_input = tf.constant(gen_inputs(y, 628, 628)[0], tf.float32)
    runs = {}
    for xla in (True, False):
        net = Network(seed=6)
        optimizer = adam(net, 1e-2)
        step = make_train_op(net, optimizer, xla)
        output = tf.function(net, jit_compile=xla, autograph=False)
        runs[xla] = [float(step(*feed)[0]) for _ in range(5)] + [float(error(output(feed[0]), feed[1]))]
        output(test_input)  # the other half: same shape, no new trace
        assert step.experimental_get_tracing_count() == 1 and output.experimental_get_tracing_count() == 1
    assert runs[True][0] > runs[True][-1]  # it trained
    np.testing.assert_allclose(runs[True], runs[False], rtol=1e-4)
