"""The network, error, learning rate and one training step, against TF 0.7's definitions.

See ../shared/tf07-semantics.md (in the project's shared folder) for what 0.7 computed.
"""

import itertools
import math
import os

import numpy as np
import pytest

import sine_wave
from sine_wave import (
    LR_SCHEDULES, Feed, build_network, build_optimizer, error, gen_inputs, gen_seq, learning_rate,
    make_predict, make_train_step, stepped_learning_rate, train,
)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def tf07_lstm(inputs, matrix, bias, num_hidden):
    """TF 0.7's rnn_cell.LSTMCell (no peepholes), transcribed in NumPy.

    One matrix over [input, h_prev]; gates split i, j, f, o; +1 on the forget gate.
    """
    c = np.zeros(num_hidden)
    h = np.zeros(num_hidden)
    hs = []
    for x_t in inputs:
        i, j, f, o = np.split(np.concatenate([x_t, h]) @ matrix + bias, 4)
        c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
    return np.array(hs)


def as_tf07(network):
    """Keras' LSTM weights rearranged into 0.7's one matrix and bias."""
    kernel, recurrent, bias = (v.numpy() for v in network.lstm.trainable_variables)
    i, f, c, o = np.split(np.vstack([kernel, recurrent]), 4, axis=1)  # Keras: i, f, c, o
    bi, bf, bc, bo = np.split(bias, 4)
    # 0.7 adds its 1 inside the cell; Keras keeps it in the bias.
    return np.hstack([i, c, f, o]), np.concatenate([bi, bc, bf - 1.0, bo])


@pytest.fixture(scope="module")
def data():
    x, y = gen_seq()
    n_steps = len(x) // 2
    seq_input, seq_target = gen_inputs(y, n_steps, 0)
    return seq_input.astype(np.float32), seq_target.astype(np.float32)


def test_initial_weights_are_tf07s(tf):
    for num_hidden, seq_width in [(10, 10), (32, 3)]:
        net = build_network(num_hidden, seq_width, seed=1)
        kernel, recurrent, bias = (v.numpy() for v in net.lstm.trainable_variables)
        assert kernel.shape == (seq_width, 4 * num_hidden)
        assert recurrent.shape == (num_hidden, 4 * num_hidden)
        for w in (kernel, recurrent):
            assert np.abs(w).max() <= 0.1 and np.abs(w).max() > 0.08  # U(-0.1, 0.1), not Glorot
            assert abs(w.mean()) < 0.02
        forget = bias[num_hidden:2 * num_hidden]
        np.testing.assert_array_equal(forget, 1.0)
        np.testing.assert_array_equal(np.delete(bias, np.s_[num_hidden:2 * num_hidden]), 0.0)
        W, b = net.W.numpy(), net.b.numpy()
        assert W.shape == (num_hidden, 1) and b.shape == (1,)
        assert np.abs(W).max() <= math.sqrt(3 / num_hidden)
        assert np.abs(W).max() > 0.5 * math.sqrt(3 / num_hidden)
        assert abs(b[0]) <= math.sqrt(3) and b[0] != 0.0  # uniform_unit_scaling: a random bias


def test_weights_differ_by_seed_and_repeat_by_seed(tf):
    a, b, c = build_network(seed=1), build_network(seed=1), build_network(seed=2)
    np.testing.assert_array_equal(a.lstm.trainable_variables[0].numpy(), b.lstm.trainable_variables[0].numpy())
    np.testing.assert_array_equal(a.W.numpy(), b.W.numpy())
    assert not np.array_equal(a.lstm.trainable_variables[0].numpy(), c.lstm.trainable_variables[0].numpy())
    assert not np.array_equal(a.W.numpy(), c.W.numpy())


def test_network_output_is_tf07_lstm_then_W_b(tf, data):
    seq_input, _ = data
    net = build_network(seed=3)
    # Move away from the initial weights so every gate and bias matters.
    rng = np.random.default_rng(0)
    for v in net.lstm.trainable_variables:
        v.assign(v.numpy() + rng.normal(0, 0.2, v.shape).astype(np.float32))
    matrix, bias = as_tf07(net)
    hs = tf07_lstm(seq_input[:200].astype(np.float64), matrix, bias, 10)
    want = hs @ net.W.numpy() + net.b.numpy()
    got = net(tf.constant(seq_input[:200])).numpy()
    assert got.shape == (200, 1)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_error_is_the_l2_norm_of_the_residual(tf):
    rng = np.random.default_rng(1)
    out, target = rng.normal(size=(628, 1)), rng.normal(size=(628, 1))
    got = float(error(tf.constant(out), tf.constant(target)))
    assert got == pytest.approx(np.sqrt(np.sum((out - target) ** 2)), rel=1e-12)
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
    if i > 75:
        return 1e-5
    if i > 50:
        return 1e-4
    if i > 25:
        return 5e-3
    return 1e-2


def test_learning_rate_schedules_epoch_by_epoch():
    for i in range(120):
        assert learning_rate(i) == LR_SCHEDULES["as-written"](i) == post_chain(i)
        assert stepped_learning_rate(i) == LR_SCHEDULES["stepped"](i) == meant_chain(i)
    assert {learning_rate(i) for i in range(100)} == {1e-2, 5e-3}
    assert [stepped_learning_rate(i) for i in (25, 26, 50, 51, 75, 76)] == [1e-2, 5e-3, 5e-3, 1e-4, 1e-4, 1e-5]


def test_train_sets_the_rate_before_every_epoch(tf, data):
    net = build_network(seed=4)
    optimizer = build_optimizer(net)
    seen = []

    def fake_step(seq_input, seq_target):
        seen.append(float(optimizer.learning_rate.numpy()))
        return tf.constant(100.0 / (len(seen))), "outputs"

    epochs = list(train(fake_step, optimizer, Feed(*data), 80, stepped_learning_rate))
    assert seen == pytest.approx([meant_chain(i) for i in range(80)])
    assert [i for i, _, _ in epochs] == list(range(80))
    assert [float(err) for _, err, _ in epochs] == pytest.approx([100.0 / (i + 1) for i in range(80)])
    assert {outs for _, _, outs in epochs} == {"outputs"}


def test_a_run_logs_like_the_post_and_stops_on_a_non_finite_error(tf, data, tmp_path):
    args = sine_wave.parse_args(["--no-show", "--epochs", "10", "--out", str(tmp_path)])
    net = build_network(seed=4)
    optimizer = build_optimizer(net)
    values = iter([3.0, 2.0, float("nan"), 1.0])  # one_ahead has started epoch 3 when epoch 2's NaN is read
    lines = []
    with sine_wave.Results(args, log=lines.append) as results:
        with pytest.raises(sine_wave.Diverged, match="nan at epoch 2"):
            for i, err, _ in results.watch(train(lambda a, b: (tf.constant(next(values)), None),
                                                 optimizer, Feed(*data), 10)):
                results.log("Epoch %d: %1.5f" % (i, err))
    assert lines == ["Epoch 0: 3.00000", "Epoch 1: 2.00000"]
    assert results.epoch == 2 and len(results.seconds) == 3
    assert tf.config.experimental.get_synchronous_execution()  # one_ahead's async mode ended with the error
    assert os.listdir(tmp_path) == []  # the scratch folder is gone


def test_one_step_is_clip_then_adam_with_tf07_epsilon(tf, data):
    seq_input, seq_target = (tf.constant(a) for a in data)
    net = build_network(seed=5)
    optimizer = build_optimizer(net)
    assert optimizer.epsilon == 1e-8
    tvars = net.trainable_variables
    before = [v.numpy().astype(np.float64) for v in tvars]
    with tf.GradientTape() as tape:
        err_before = error(net(seq_input), seq_target)
    grads = [g.numpy().astype(np.float64) for g in tape.gradient(err_before, tvars)]
    norm = math.sqrt(sum(np.sum(g * g) for g in grads))
    assert norm > 5.0  # so the clipping below is really exercised
    grads = [g * 5.0 / max(norm, 5.0) for g in grads]
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    want = []
    for w, g in zip(before, grads):
        m, v = (1 - b1) * g, (1 - b2) * g * g
        want.append(w - lr * math.sqrt(1 - b2) / (1 - b1) * m / (np.sqrt(v) + eps))

    step = make_train_step(net, optimizer, jit_compile=False)
    optimizer.learning_rate.assign(lr)
    err, output = step(seq_input, seq_target)
    assert float(err) == pytest.approx(float(err_before), rel=1e-5)  # the error before the update
    assert output.shape == (628, 1)
    for got, w in zip(tvars, want):
        np.testing.assert_allclose(got.numpy(), w, rtol=1e-4, atol=1e-6)


def test_xla_and_plain_steps_agree(tf, data):
    seq_input, seq_target = (tf.constant(a) for a in data)
    runs = {}
    for jit in (True, False):
        net = build_network(seed=6)
        optimizer = build_optimizer(net)
        step = make_train_step(net, optimizer, jit_compile=jit)
        runs[jit] = [float(err) for _, err, _ in train(step, optimizer, Feed(seq_input, seq_target), 5)]
        runs[jit].append(float(error(make_predict(net, jit)(seq_input), seq_target)))
    assert runs[True][0] > runs[True][-1]  # it trained
    np.testing.assert_allclose(runs[True], runs[False], rtol=1e-4)


def test_one_ahead_changes_no_number_and_ends_its_async_mode(tf, data):
    """Epoch i + 1 starts before epoch i is read (TF's async eager mode): the same floats as waiting for each step."""
    feed = Feed(*(tf.constant(a) for a in data))
    runs = {}
    for ahead in (False, True):
        net = build_network(seed=5)
        optimizer = build_optimizer(net)
        epochs = train(make_train_step(net, optimizer), optimizer, feed, 30)
        if ahead:
            epochs = sine_wave.one_ahead(epochs)
            first = next(epochs)
            assert not tf.config.experimental.get_synchronous_execution()
            epochs = itertools.chain([first], epochs)
        runs[ahead] = [(i, float(err), outs.numpy().tobytes()) for i, err, outs in epochs]
        assert tf.config.experimental.get_synchronous_execution()
    assert [i for i, _, _ in runs[True]] == list(range(30))
    assert runs[True] == runs[False]  # every error and every output, bit for bit
    assert runs[True][0][1] > runs[True][-1][1]  # it trained
    stopped = sine_wave.one_ahead(iter([(0, 1.0, None), (1, 2.0, None), (2, 3.0, None)]))
    assert next(stopped)[0] == 0 and not tf.config.experimental.get_synchronous_execution()
    stopped.close()  # a consumer stopping early (an error, an interrupt) ends it too
    assert tf.config.experimental.get_synchronous_execution()
    assert list(sine_wave.one_ahead(iter([]))) == []  # --epochs 0


def test_the_step_is_traced_once_for_both_halves(tf, data):
    seq_input, seq_target = (tf.constant(a) for a in data)
    x, y = gen_seq()
    test_input = tf.constant(gen_inputs(y, 628, 628)[0].astype(np.float32))
    net = build_network(seed=7)
    optimizer = build_optimizer(net)
    step = make_train_step(net, optimizer)
    predict = make_predict(net)
    list(train(step, optimizer, Feed(seq_input, seq_target), 3))
    predict(seq_input)
    predict(test_input)
    assert step.experimental_get_tracing_count() == 1
    assert predict.experimental_get_tracing_count() == 1
