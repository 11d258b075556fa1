"""experiments/seeds.py: each row is what the command line writes for that seed and schedule."""

import csv
import importlib.metadata
import json
import platform
import re
import subprocess
import sys

from conftest import ROOT, script_env

COLUMNS = {  # seeds.csv's column: metrics.json's key
    "train_error": ("train_error",),
    "final_train_error": ("final_train_error",),
    "test_rmse_lstm": ("test_rmse", "lstm"),
    "test_rmse_linear": ("test_rmse", "linear"),
    "test_rmse_last_value": ("test_rmse", "last_value"),
    "test_positions": ("test_positions",),
}


def read_rows(path):
    with open(path, newline="") as f:
        return {(int(r["seed"]), r["lr_schedule"]): r for r in csv.DictReader(f)}


def metric(metrics, key):
    for part in key:
        metrics = metrics[part]
    return metrics


def test_the_study_equals_the_command_line_seed_by_seed(main, tmp_path):
    # Seed 7 second, 55 epochs: past epoch 50, where the two schedules part
    study = tmp_path / "study"
    args = ["--seeds", "3", "7", "--epochs", "55", "--out", str(study)]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "seeds.py"), *args],
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    # stderr: the progress lines only, TF's start-up lines filtered as sine_wave.py filters them
    for line in proc.stderr.splitlines():
        assert re.match(r"seed \d+ \(\d+ of 2\) done in |4 runs in ", line), proc.stderr
    rows = read_rows(study / "seeds.csv")
    assert sorted(rows) == [(3, "as-written"), (3, "stepped"), (7, "as-written"), (7, "stepped")]
    assert rows[7, "as-written"]["train_error"] != rows[7, "stepped"]["train_error"]
    for schedule in ("as-written", "stepped"):
        out = tmp_path / schedule
        argv = ["--seed", "7", "--epochs", "55", "--lr-schedule", schedule, "--out", out]
        cli = main("--no-show", *argv)
        assert cli.returncode == 0, cli.stderr
        metrics = json.loads((out / "metrics.json").read_text())
        row = rows[7, schedule]
        for column, key in COLUMNS.items():  # to the last digit
            assert float(row[column]) == metric(metrics, key), column
    for name in ("seeds.md", "seeds.png"):
        assert (study / name).stat().st_size > 0
    # The "Made by" line: the command without --out, and nothing that changes from run to run
    md = (study / "seeds.md").read_text()
    (made_by,) = [line for line in md.splitlines() if line.startswith("Made by")]
    assert "`python experiments/seeds.py --seeds 3 7 --epochs 55`" in made_by
    assert str(tmp_path) not in md and not re.search(r"\d+\.\d+ s\b", md)
    helped = sum(
        float(rows[s, "as-written"]["test_rmse_lstm"]) < float(rows[s, "stepped"]["test_rmse_lstm"])
        for s in (3, 7)
    )
    assert f"than the intended `stepped` one for {helped} of 2 seeds" in proc.stdout
    assert proc.stdout.strip() == md.strip()


def test_the_committed_study_holds_the_default_run(trained):
    """docs/seeds.csv, which the README shows, is current: its default-seed `as-written` row is what
    a default run writes, on the build it names (TensorFlow 2.21, x86-64); elsewhere, its
    settings."""
    _, out = trained
    metrics = json.loads((out / "metrics.json").read_text())
    rows = read_rows(ROOT / "docs" / "seeds.csv")
    row = rows[metrics["options"]["seed"], "as-written"]
    assert len(rows) == 40 and {schedule for _, schedule in rows} == {"as-written", "stepped"}
    assert int(row["test_positions"]) == metrics["test_positions"]
    # The build docs/seeds.md names ("with TensorFlow 2.21.0, NumPy 2.4.6 on Linux x86_64"):
    # another NumPy's least squares differs in the last bits
    named = (ROOT / "docs" / "seeds.md").read_text()
    build = [f"TensorFlow {importlib.metadata.version('tensorflow')},",
             f"NumPy {importlib.metadata.version('numpy')} on", platform.machine()]  # fmt: skip
    if all(part in named for part in build):
        for column, key in COLUMNS.items():
            assert float(row[column]) == metric(metrics, key), column
