"""gen_seq and gen_inputs: the post's data, value for value, against values computed another way."""

import numpy as np
import pytest

from sine_wave import gen_inputs, gen_seq


def windows_by_striding(y, n_steps, offset, seq_width, lag):
    """What the post's loop computes, computed another way: strided windows over y padded with
    zeros."""
    y = np.ravel(y)
    padded = np.zeros(max(offset + n_steps + seq_width + lag, len(y)) + 1)
    padded[: len(y)] = y
    windows = np.lib.stride_tricks.sliding_window_view(padded, seq_width)[offset : offset + n_steps]
    targets = padded[offset + seq_width + lag : offset + seq_width + lag + n_steps]
    return windows, targets.reshape(-1, 1)


def test_gen_seq_is_the_posts_sequence():
    x, y = gen_seq()
    assert x.shape == (1257,) and y.shape == (1257, 1)
    assert x[0] == 0.0 and x[-1] < 12 * np.pi and np.allclose(np.diff(x), 0.03)
    for k in (0, 1, 100, 628, 1256):
        xi = 0.03 * k
        bell = np.exp(-((np.sin(xi - np.pi / 2) - 2 * np.pi) ** 2) / 9.0)
        assert y[k, 0] == pytest.approx(100 * np.sin(8 * xi) * bell, rel=1e-12, abs=1e-12)
    # The amplitude the post's first figure shows: about 4.4 at the bell's peaks.
    assert 4.3 < np.abs(y).max() < 4.5


@pytest.mark.parametrize(
    "n_steps, offset, seq_width, lag",
    [
        (628, 0, 10, 60),  # the post's training half
        (628, 628, 10, 60),  # the test half: targets run past the end
        (30, 1250, 10, 60),  # windows run past the end too
        (5, 1257, 3, 0),  # starts past the end: all zeros
        (100, 40, 1, 0),
        (50, 1200, 25, 7),
    ],
)
def test_gen_inputs_matches_strided_windows(n_steps, offset, seq_width, lag):
    _, y = gen_seq()
    got_input, got_target = gen_inputs(y, n_steps, offset, seq_width=seq_width, lag=lag)
    want_input, want_target = windows_by_striding(y, n_steps, offset, seq_width, lag)
    assert got_input.shape == (n_steps, seq_width) and got_target.shape == (n_steps, 1)
    np.testing.assert_array_equal(got_input, want_input)
    np.testing.assert_array_equal(got_target, want_target)


def test_the_posts_loop_on_its_own_column_y_is_ragged_past_the_end():
    """Why gen_inputs flattens y: given gen_seq's (N, 1) array as the post passed it, the loop puts
    1-element arrays beside the scalar 0 it pads with, and NumPy >= 1.24 refuses that ragged
    list."""
    _, y = gen_seq()
    window = [y[1256], 0]  # the test half's last window, as the post's loop builds it
    with pytest.raises(ValueError):
        np.array([window, [y[0], y[1]]])


def test_gen_inputs_on_a_short_ramp_by_hand():
    y = np.arange(1.0, 8.0).reshape(-1, 1)  # 1..7
    seq_input, seq_target = gen_inputs(y, n_steps=3, offset=3, seq_width=3, lag=1)
    np.testing.assert_array_equal(seq_input, [[4, 5, 6], [5, 6, 7], [6, 7, 0]])
    np.testing.assert_array_equal(seq_target, [[0], [0], [0]])
    seq_input, seq_target = gen_inputs(y, n_steps=2, offset=0, seq_width=2, lag=1)
    np.testing.assert_array_equal(seq_target, [[4], [5]])


def test_gen_inputs_is_the_posts_code_line_for_line():
    """The story quotes the post's gen_inputs: every line of the post's function is in ours, in
    order."""
    import inspect
    import re

    # The post's lines (block 3), as printed there
    post_lines = """seq_input = []|seq_target = []|for i in range(offset, offset+n_steps):|
        window=[]|for j in range(seq_width):|if i+j<len(y):|window.append(y[i+j])|else:|
        window.append(0)|seq_input.append(window)|if i+lag+seq_width < len(y):|
        seq_target.append(y[i+lag+seq_width])|else:|seq_target.append(0)|
        seq_input = np.reshape(np.array(seq_input), (-1, seq_width))|
        seq_target = np.reshape(np.array(seq_target), (-1, 1))|return seq_input, seq_target"""
    want = [re.sub(r"\s", "", line) for line in post_lines.split("|")]
    ours = [re.sub(r"\s", "", line) for line in inspect.getsource(gen_inputs).splitlines()]
    ours = [line for line in ours if line and not line.startswith(("def", "y=np.ravel"))]
    assert ours == want


def test_the_test_half_nearly_repeats_the_training_half():
    """The README's Results: y repeats every 2 pi and the test half starts at x = 628 x 0.03 =
    6 pi - 0.0096, so every test window with a real target lies close to a training window: its
    values within a few hundredths of y's span of some training window's."""
    x, y = gen_seq()
    assert round(x[628] - 6 * np.pi, 4) == -0.0096
    train, _ = gen_inputs(y, 628, 0)
    test, _ = gen_inputs(y, 628, 628)
    real = len(y) - (628 + 10 + 60)  # the test windows whose target is in y
    gaps = np.array([np.abs(train - window).max(axis=1).min() for window in test[:real]])
    assert len(gaps) == 559 and gaps.max() < 0.03 * np.ptp(y)
