"""The command line end to end: what a reader running `python sine_wave.py` gets."""

import csv
import json
import re
import subprocess
import sys

import numpy as np

from conftest import ROOT, run_script

FILES = [
    "sequence.png", "sequence-and-network-output.png", "training-complete.png", "training-error.png",
    "metrics.json", "predictions.csv",
    "sine-wave-rnn-10-10-0.index", "sine-wave-rnn-10-10-0.data-00000-of-00001",
]
EPOCH = re.compile(r"^Epoch (\d+): (\d+\.\d{5})$")


def epoch_errors(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("Epoch ")]
    matches = [EPOCH.match(line) for line in lines]
    assert all(matches), lines
    return [int(m[1]) for m in matches], [float(m[2]) for m in matches]


def read_predictions(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {half: np.array([float(r["prediction"]) for r in rows if r["half"] == half]) for half in ("train", "test")}


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
    assert set(rmse) >= {"lstm", "zero", "last_value", "linear"}
    for baseline in ("zero", "last_value", "linear"):
        assert rmse["lstm"] < rmse[baseline], rmse
    # The printed table carries the same numbers.
    assert f"{rmse['lstm']:.5f}" in proc.stdout and f"{rmse['linear']:.5f}" in proc.stdout


def test_predictions_file_matches_the_metrics(trained):
    _, out = trained
    metrics = json.loads((out / "metrics.json").read_text())
    with open(out / "predictions.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["half"] == "test"]
    n = metrics["test_positions"]
    err = np.array([float(r["prediction"]) - float(r["target"]) for r in rows[:n]])
    assert len(rows) == 628 and n == 559
    assert np.isclose(np.sqrt(np.mean(err ** 2)), metrics["test_rmse"]["lstm"], rtol=1e-9)


def test_restore_in_a_fresh_process_gives_identical_predictions(trained, tmp_path):
    _, out = trained
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in FILES:
        (copy / name).write_bytes((out / name).read_bytes())
    trained_preds = read_predictions(out / "predictions.csv")
    proc = run_script("--restore", "--no-show", "--out", copy)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "Epoch" not in proc.stdout and "Restored" in proc.stdout
    restored = read_predictions(copy / "predictions.csv")
    for half in ("train", "test"):
        assert restored[half].shape == (628,)
        np.testing.assert_array_equal(restored[half], trained_preds[half])
    # The checkpoint itself is read, not rewritten.
    assert (copy / FILES[-1]).read_bytes() == (out / FILES[-1]).read_bytes()


def without_timing(stdout):
    return [line for line in stdout.splitlines() if not line.startswith("Finished in")]


def test_same_seed_same_log_and_metrics_other_seed_differs(trained, main, tmp_path):
    proc, out = trained
    again = run_script("--no-show", "--out", tmp_path / "again")
    assert again.returncode == 0, again.stderr
    first = [line.replace(str(out), "OUT") for line in without_timing(proc.stdout)]
    second = [line.replace(str(tmp_path / "again"), "OUT") for line in without_timing(again.stdout)]
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
    assert (tmp_path / "training-error.png").is_file()


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
