"""The command line end to end: what a reader running `python sine_wave.py` gets."""

import csv
import json
import math
import re
import subprocess
import sys

import numpy as np
from conftest import ROOT, run_script

from sine_wave import gen_inputs, gen_seq

FILES = [
    "sequence.png",
    "sequence-and-network-output.png",
    "training-complete.png",
    "training-error.png",
    "metrics.json",
    "predictions.csv",
    "sine-wave-rnn-10-10-0.index",
    "sine-wave-rnn-10-10-0.data-00000-of-00001",
]
CHECKPOINT = "sine-wave-rnn-10-10-0"
EPOCH = re.compile(r"^Epoch (\d+): (\d+\.\d{5})$")


def epoch_errors(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("Epoch ")]
    matches = [EPOCH.match(line) for line in lines]
    assert all(matches), lines
    return [int(m[1]) for m in matches], [float(m[2]) for m in matches]


def read_predictions(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_a_run_writes_every_file_and_logs_100_epochs(trained):
    proc, out = trained
    for name in FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)  # no scratch files, no GIF
    for name in FILES[:4]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    epochs, _ = epoch_errors(proc.stdout)
    assert epochs == list(range(100))
    assert proc.stderr == ""  # a default run on a CPU-only machine prints nothing else
    wrote = proc.stdout.splitlines()[-1]
    assert wrote.startswith(f"Wrote {out}/: ") and sorted(
        wrote.split(": ")[1].split(", ")
    ) == sorted(FILES)


def test_training_learns_and_beats_simple_predictors(trained):
    proc, out = trained
    _, errors = epoch_errors(proc.stdout)
    assert errors[-1] * 5 <= errors[0], (errors[0], errors[-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert abs(metrics["train_error"] - errors[-1]) < 1e-5  # the log shows 5 decimals
    rmse = metrics["test_rmse"]
    assert set(rmse) == {"lstm", "zero", "last_value", "linear"}
    for baseline in ("zero", "last_value", "linear"):
        assert rmse["lstm"] < rmse[baseline], rmse
    # The last-value baseline computed here from y: the window's last value, y[k + 9], for the
    # target y[k + 70], over the test positions with a real target
    _, y = gen_seq()
    y = np.ravel(y)
    n = metrics["test_positions"]
    assert n == len(y) - (628 + 10 + 60)
    k = np.arange(628, 628 + n)
    assert rmse["last_value"] == math.sqrt(np.mean((y[k + 9] - y[k + 70]) ** 2))
    # The printed table carries the same numbers, each on its labelled line
    lines = proc.stdout.splitlines()
    for label, key in [
        ("LSTM (this network)", "lstm"),
        ("always zero", "zero"),
        ("last value of the window", "last_value"),
        ("linear map, least squares", "linear"),
    ]:
        assert (
            sum(
                re.fullmatch(rf"  {re.escape(label)} +{rmse[key]:.5f}", line) is not None
                for line in lines
            )
            == 1
        )


def test_predictions_csv_holds_both_halves_as_the_figures_show_them(trained):
    _, out = trained
    header, rows = read_predictions(out / "predictions.csv")
    assert header == ["x", "half", "target", "prediction"]
    assert len(rows) == 1256  # one row per step of both halves
    assert [r[1] for r in rows] == ["train"] * 628 + ["test"] * 628
    x, y = gen_seq()
    values = np.array([[float(v) for v in (r[0], r[2], r[3])] for r in rows])
    np.testing.assert_array_equal(values[:, 0], x[:1256])  # each number reads back exactly
    targets = np.concatenate([gen_inputs(y, 628, offset)[1] for offset in (0, 628)]).ravel()
    np.testing.assert_array_equal(values[:, 1], targets)
    metrics = json.loads((out / "metrics.json").read_text())
    train, test = values[:628], values[628:]
    train_error = math.sqrt(np.sum((train[:, 2] - train[:, 1]) ** 2))  # the post's error
    assert abs(train_error - metrics["final_train_error"]) <= 1e-9 * train_error
    n = metrics["test_positions"]
    test_rmse = math.sqrt(np.mean((test[:n, 2] - test[:n, 1]) ** 2))
    assert abs(test_rmse - metrics["test_rmse"]["lstm"]) <= 1e-9 * test_rmse


def test_the_checkpoint_holds_tf07s_names(trained, tf):
    _, out = trained
    reader = tf.train.load_checkpoint(str(out / CHECKPOINT))
    names = {k.split("/.ATTRIBUTES")[0] for k in reader.get_variable_to_shape_map()}
    assert {"RNN/LSTMCell/W_0", "RNN/LSTMCell/B", "W", "b"} <= names


def test_restore_in_a_fresh_process_gives_the_same_network(trained, tmp_path):
    proc, out = trained
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in FILES:
        (copy / name).write_bytes((out / name).read_bytes())
    restored = run_script("--restore", "--no-show", "--out", copy)
    assert restored.returncode == 0, restored.stderr
    assert restored.stderr == ""
    assert "Epoch" not in restored.stdout
    assert restored.stdout.startswith(
        f"Restoring {CHECKPOINT}, trained with --seed 20160310 --lr-schedule as-written "
        "--epochs 100\n"
    )
    trained_m, restored_m = (json.loads((d / "metrics.json").read_text()) for d in (out, copy))
    assert restored_m["test_rmse"] == trained_m["test_rmse"]
    assert restored_m["final_train_error"] == trained_m["final_train_error"]
    # The same network: the same predictions, number for number
    assert (copy / "predictions.csv").read_bytes() == (out / "predictions.csv").read_bytes()
    # The number both runs print, under the same label: the trained network's error, after the
    # last update
    line = next(line for line in proc.stdout.splitlines() if "of the trained network" in line)
    assert f"{trained_m['final_train_error']:.5f}" in line
    assert line.split(" (the log's last epoch")[0] in restored.stdout.splitlines()
    # The training figures of the earlier run go: the folder shows this run (README)
    assert not (copy / "training-error.png").exists()
    assert not (copy / "sequence-and-network-output.png").exists()
    gone = "removed an earlier run's sequence-and-network-output.png, training-error.png"
    assert gone in restored.stdout
    # The checkpoint itself is read, not rewritten
    for name in FILES[-2:]:
        assert (copy / name).read_bytes() == (out / name).read_bytes()


def test_animate_writes_a_gif_and_the_same_seed_gives_the_same_run(trained, main, tmp_path):
    """--animate at the default 100 epochs, in this process: a GIF of a frame every 4 epochs and the
    last; everything else as the command line's default run wrote it."""
    from PIL import Image

    proc, out = trained
    again = main("--no-show", "--animate", "--out", tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""
    gif = tmp_path / "again" / "training.gif"
    assert gif.read_bytes()[:6] == b"GIF89a"
    with Image.open(gif) as image:
        frames = image.n_frames
        first = np.asarray(image.convert("RGB"))
        image.seek(frames - 1)
        last = np.asarray(image.convert("RGB"))
    assert frames >= 20  # the README's promise at 100 epochs
    assert frames == len(range(0, 100, 4)) + 1  # epochs 0, 4, ..., 96 and 99
    assert first.shape == last.shape and (first != last).any()  # the output moved
    # Same seed, same log and results: all but the Wrote line, which adds the GIF
    first_run, second_run = proc.stdout.splitlines(), again.stdout.splitlines()
    assert first_run[:-1] == second_run[:-1]
    assert second_run[-1].replace(str(tmp_path / "again"), str(out)) == first_run[-1].replace(
        "training-error.png, ", "training-error.png, training.gif, "
    )
    for name in ("metrics.json", "predictions.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    other = tmp_path / "other" / "metrics.json"
    assert main("--no-show", "--epochs", "3", "--seed", "7", "--out", other.parent).returncode == 0
    assert (
        json.loads(other.read_text())["train_error"]
        != json.loads((out / "metrics.json").read_text())["train_error"]
    )


def test_zero_epochs_and_other_sizes(main, tmp_path):
    proc = main(
        "--no-show", "--epochs", "0", "--hidden", "4", "--seq-width", "3", "--lag", "5",
        "--out", tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "Epoch" not in proc.stdout and "untrained network" in proc.stdout
    assert (tmp_path / "sine-wave-rnn-4-3-0.index").is_file()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["epochs"] == 0
    assert metrics["test_positions"] == 1257 - (628 + 3 + 5)  # targets up to the sequence's end
    assert metrics["train_error"] == metrics["final_train_error"]
    assert not (tmp_path / "training-error.png").exists()  # no epochs, no error figure
    _, rows = read_predictions(tmp_path / "predictions.csv")
    _, y = gen_seq()
    targets = [float(r[2]) for r in rows]
    assert len(rows) == 1256 and targets[:628] == np.ravel(gen_inputs(y, 628, 0, 3, 5)[1]).tolist()


def test_importing_the_module_does_nothing(tmp_path):
    code = (
        "import sys, sine_wave; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'; print('ok')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_names_every_option():
    proc = run_script("--help")
    assert proc.returncode == 0
    options = "--epochs --hidden --seq-width --lag --seed --lr-schedule --out --animate --no-show"
    for option in options.split() + ["--restore", "--no-xla"]:
        assert re.search(rf"^  {option}\b", proc.stdout, re.M), option


def test_the_readme_shows_a_default_run_line_for_line(trained):
    """README's "What you will see" is a default run's output: `...` stands for the epochs left
    out. Its digits are those of the build it names (TensorFlow 2.21, x86-64); elsewhere every
    line but its digits must match."""
    import platform

    from conftest import tf_version

    proc, out = trained
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("## What you will see")[1].split("```")[1].strip("\n").splitlines()
    got = [line.replace(str(out), "output") for line in proc.stdout.rstrip("\n").splitlines()]
    at = shown.index("...")
    head, tail = shown[:at], shown[at + 1 :]
    assert all(line.startswith("Epoch ") for line in got[len(head) : len(got) - len(tail)])
    got = got[: len(head)] + got[len(got) - len(tail) :]
    shown = head + tail
    if tf_version()[:2] != (2, 21) or platform.machine() != "x86_64":
        digits = re.compile(r"\d+\.\d+")
        got, shown = ([digits.sub("D", line) for line in lines] for lines in (got, shown))
    assert got == shown
