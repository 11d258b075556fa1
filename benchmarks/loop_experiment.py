"""An experiment, not part of sine_wave.py: Keras' LSTM against a hand-written tf.while_loop cell.

The hand-written loop computes the same gates, in Keras' order, from the same variables, but
reads the variables once, outside the loop (Keras' cell reads them inside it, so TensorFlow's
while-loop gradient keeps each step's copy). Both train for 100 epochs from the same start.
It prints, per form, the first epoch (trace + compile), the median steady epoch, and the log's
epoch 50 and 99, to show whether the numbers stay the same.

    python benchmarks/loop_experiment.py keras
    python benchmarks/loop_experiment.py loop
    python benchmarks/loop_experiment.py hoisted     # the input projection before the loop
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sine_wave as sw  # noqa: E402


def lstm_loop(tf, cell, seq_input, hoist):
    kernel, recurrent, bias = (tf.convert_to_tensor(v) for v in (cell.kernel, cell.recurrent_kernel, cell.bias))
    steps, units = seq_input.shape[0], recurrent.shape[0]
    xs = seq_input @ kernel if hoist else seq_input

    def body(t, h, c, hs):
        z = xs[t][None] if hoist else tf.matmul(xs[t][None], kernel)
        z = z + tf.matmul(h, recurrent) + bias
        z0, z1, z2, z3 = tf.split(z, 4, axis=1)  # Keras' order: i, f, c, o
        c = tf.sigmoid(z1) * c + tf.sigmoid(z0) * tf.tanh(z2)
        h = tf.sigmoid(z3) * tf.tanh(c)
        return t + 1, h, c, hs.write(t, h[0])

    zeros = tf.zeros((1, units))
    start = (tf.constant(0), zeros, zeros, tf.TensorArray(tf.float32, size=steps))
    return tf.while_loop(lambda t, *_: t < steps, body, start, maximum_iterations=steps)[3].stack()


def main(form):
    tf = sw.import_tensorflow(xla=True)
    x, y = sw.gen_seq()
    feed = sw.feed_dict(*sw.gen_inputs(y, len(x) // 2, 0))
    network = sw.build_network()
    optimizer = sw.build_optimizer(network)
    if form != "keras":
        sw.Network.__call__ = lambda self, s: lstm_loop(tf, self.lstm.cell, s, form == "hoisted") @ self.W + self.b
    step = sw.make_train_step(network, optimizer)
    log, started = [], time.perf_counter()
    for _, err, _ in sw.train(step, optimizer, feed, 100):  # the default run's 100 epochs
        log.append("%1.5f" % err)
        first = first if len(log) > 1 else time.perf_counter() - started
    times = []
    for _ in range(300):
        t = time.perf_counter()
        float(step(*feed)[0])
        times.append(time.perf_counter() - t)
    print(f"{form}: first epoch {1000 * first:.0f} ms, steady epoch {1000 * statistics.median(times):.2f} ms; "
          f"epoch 50: {log[50]}, epoch 99: {log[99]}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "keras")
