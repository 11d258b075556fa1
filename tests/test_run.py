"""The command line end to end: what a reader running `python sine_wave.py` gets."""

import json
import re
import subprocess
import sys

from conftest import ROOT, run_script

FILES = [
    "sequence.png", "sequence-and-network-output.png", "training-complete.png", "training-error.png",
    "metrics.json",
    "sine-wave-rnn-10-10-0.index", "sine-wave-rnn-10-10-0.data-00000-of-00001",
]
EPOCH = re.compile(r"^Epoch (\d+): (\d+\.\d{5})$")


def epoch_errors(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("Epoch ")]
    matches = [EPOCH.match(line) for line in lines]
    assert all(matches), lines
    return [int(m[1]) for m in matches], [float(m[2]) for m in matches]


def test_a_run_writes_every_file_and_logs_100_epochs(trained):
    proc, out = trained
    for name in FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)  # no scratch files left behind
    for name in FILES[:4]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    epochs, _ = epoch_errors(proc.stdout)
    assert epochs == list(range(100))
    assert proc.stderr == ""  # a default run on a CPU-only machine prints nothing else


def test_training_learns_and_beats_simple_predictors(trained):
    proc, out = trained
    _, errors = epoch_errors(proc.stdout)
    assert errors[-1] * 5 <= errors[0], (errors[0], errors[-1])
    metrics = json.loads((out / "metrics.json").read_text())
    assert abs(metrics["train_error"] - errors[-1]) < 1e-5  # the log shows 5 decimals
    rmse = metrics["test_rmse"]
    assert set(rmse) == {"lstm", "zero", "linear"}
    for baseline in ("zero", "linear"):
        assert rmse["lstm"] < rmse[baseline], rmse
    # The printed table carries the same numbers.
    assert f"{rmse['lstm']:.5f}" in proc.stdout and f"{rmse['linear']:.5f}" in proc.stdout


def test_the_checkpoint_holds_tf07s_names(trained):
    import tensorflow as tf

    _, out = trained
    names = {k.split("/.ATTRIBUTES")[0] for k in tf.train.load_checkpoint(str(out / FILES[-2][:-6])).get_variable_to_shape_map()}
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
    assert restored.stdout.startswith("Restoring sine-wave-rnn-10-10-0, trained with --seed 20160310 "
                                      "--lr-schedule as-written --epochs 100\n")
    trained_m, restored_m = (json.loads((d / "metrics.json").read_text()) for d in (out, copy))
    assert restored_m["test_rmse"] == trained_m["test_rmse"] and restored_m["final_train_error"] == trained_m["final_train_error"]
    # The number both runs print, under the same label: the trained network's error, after the last update
    line = next(line for line in proc.stdout.splitlines() if "of the trained network" in line)
    assert f"{trained_m['final_train_error']:.5f}" in line
    assert line.split(" (the log's last epoch")[0] in restored.stdout.splitlines()
    # The training figures of the earlier run go: the folder shows this run (README)
    assert not (copy / "training-error.png").exists() and not (copy / "sequence-and-network-output.png").exists()
    assert "removed an earlier run's sequence-and-network-output.png, training-error.png" in restored.stdout
    # The checkpoint itself is read, not rewritten.
    assert (copy / FILES[-1]).read_bytes() == (out / FILES[-1]).read_bytes()


def test_same_seed_same_log_and_metrics_other_seed_differs(trained, main, tmp_path):
    proc, out = trained
    again = run_script("--no-show", "--out", tmp_path / "again")
    assert again.returncode == 0, again.stderr
    first = [line.replace(str(out), "OUT") for line in proc.stdout.splitlines()]
    second = [line.replace(str(tmp_path / "again"), "OUT") for line in again.stdout.splitlines()]
    assert first == second
    assert (out / "metrics.json").read_bytes() == (tmp_path / "again" / "metrics.json").read_bytes()
    other = (tmp_path / "other" / "metrics.json")
    assert main("--no-show", "--epochs", "3", "--seed", "7", "--out", other.parent).returncode == 0
    assert json.loads(other.read_text())["train_error"] != json.loads((out / "metrics.json").read_text())["train_error"]


def test_zero_epochs_and_other_sizes(main, tmp_path):
    proc = main("--no-show", "--epochs", "0", "--hidden", "4", "--seq-width", "3", "--lag", "5",
                      "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "Epoch" not in proc.stdout and "untrained network" in proc.stdout
    assert (tmp_path / "sine-wave-rnn-4-3-0.index").is_file()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["epochs"] == 0
    assert metrics["test_positions"] == 1257 - (628 + 3 + 5)  # targets up to the sequence's end
    assert metrics["train_error"] == metrics["final_train_error"]
    assert not (tmp_path / "training-error.png").exists()  # no epochs, no error figure


def test_importing_the_module_does_nothing(tmp_path):
    code = ("import sys, sine_wave; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_names_every_option():
    proc = run_script("--help")
    assert proc.returncode == 0
    for option in ("--epochs", "--hidden", "--seq-width", "--lag", "--seed", "--lr-schedule", "--out",
                   "--no-show", "--restore", "--no-xla"):
        assert option in proc.stdout


def test_the_readme_shows_a_default_run_line_for_line(trained):
    """README's "What you will see" is a default run's output: `...` stands for the epochs left out, and the
    seconds of the last line vary. Its digits are those of the build it names (TensorFlow 2.21, x86-64);
    elsewhere every line but its digits must match."""
    import platform

    from conftest import tf_version

    proc, out = trained
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("## What you will see")[1].split("```")[1].strip("\n").splitlines()
    got = [line.replace(str(out), "output") for line in proc.stdout.rstrip("\n").splitlines()]
    at = shown.index("...")
    head, tail = shown[:at], shown[at + 1:]
    assert all(line.startswith("Epoch ") for line in got[len(head):len(got) - len(tail)])
    got = got[:len(head)] + got[len(got) - len(tail):]
    seconds = re.compile(r"\d+\.\d s$")
    got, shown = ([seconds.sub("S", line) for line in lines] for lines in (got, head + tail))
    if tf_version()[:2] != (2, 21) or platform.machine() != "x86_64":
        digits = re.compile(r"\d+\.\d+")
        got, shown = ([digits.sub("D", line) for line in lines] for lines in (got, shown))
    assert got == shown
