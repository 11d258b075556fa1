"""gen_seq and gen_inputs: the post's data, value for value."""

import numpy as np
import pytest

from sine_wave import gen_inputs, gen_seq, real_target_count


def post_gen_inputs(y, n_steps, offset, seq_width=10, lag=60):
    """The post's gen_inputs, transcribed literally (loops and all).

    Called with y flattened: given gen_seq's (N, 1) array, the post's loop puts
    1-element arrays beside the scalar 0 it pads with, and NumPy now refuses
    that ragged list (see test_the_posts_loop_is_ragged_past_the_end).
    """
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
    seq_input = np.reshape(np.array(seq_input, dtype=float), (-1, seq_width))
    seq_target = np.reshape(np.array(seq_target, dtype=float), (-1, 1))
    return seq_input, seq_target


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
        (628, 0, 10, 60),     # the post's training half
        (628, 628, 10, 60),   # the test half: targets run past the end
        (30, 1250, 10, 60),   # windows run past the end too
        (5, 1257, 3, 0),      # starts past the end: all zeros
        (100, 40, 1, 0),
        (50, 1200, 25, 7),
    ],
)
def test_gen_inputs_matches_the_posts_loop(n_steps, offset, seq_width, lag):
    _, y = gen_seq()
    got_input, got_target = gen_inputs(y, n_steps, offset, seq_width=seq_width, lag=lag)
    want_input, want_target = post_gen_inputs(y.ravel(), n_steps, offset, seq_width=seq_width, lag=lag)
    assert got_input.shape == (n_steps, seq_width) and got_target.shape == (n_steps, 1)
    np.testing.assert_array_equal(got_input, want_input)
    np.testing.assert_array_equal(got_target, want_target)


def test_the_posts_loop_is_ragged_past_the_end():
    _, y = gen_seq()
    post_gen_inputs(y, 628, 0)  # the training half never pads: fine as the post ran it
    with pytest.raises(ValueError):
        post_gen_inputs(y, 628, 628)  # the test half pads its targets with 0


def test_gen_inputs_on_a_short_ramp_by_hand():
    y = np.arange(1.0, 8.0).reshape(-1, 1)  # 1..7
    seq_input, seq_target = gen_inputs(y, n_steps=3, offset=3, seq_width=3, lag=1)
    np.testing.assert_array_equal(seq_input, [[4, 5, 6], [5, 6, 7], [6, 7, 0]])
    np.testing.assert_array_equal(seq_target, [[0], [0], [0]])
    seq_input, seq_target = gen_inputs(y, n_steps=2, offset=0, seq_width=2, lag=1)
    np.testing.assert_array_equal(seq_target, [[4], [5]])


def test_real_target_count_agrees_with_the_padding():
    _, y = gen_seq()
    for offset, seq_width, lag in [(628, 10, 60), (0, 10, 60), (628, 1, 0), (628, 300, 328)]:
        _, target = gen_inputs(y, 628, offset, seq_width, lag)
        n = real_target_count(628, offset, seq_width, lag, len(y))
        first = offset + seq_width + lag
        np.testing.assert_array_equal(target[:n, 0], y[first:first + n, 0])
        assert not target[n:].any()
    assert real_target_count(628, 628, 10, 60, 1257) == 559
