"""experiments/seeds.py: one compiled step reused across seeds gives exactly what the command line gives."""

import csv
import json
import re
import subprocess
import sys

from conftest import ROOT, script_env


def test_the_study_equals_the_command_line_seed_by_seed(main, tmp_path):
    # Seed 7 second: its runs reuse the step after seed 3 trained it, so the reset is what is tested.
    # 55 epochs: past epoch 50, where the two schedules part. A compile cache of its own, empty.
    cache = tmp_path / "cache"
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "seeds.py"), "--seeds", "3", "7",
                           "--epochs", "55", "--out", str(tmp_path / "study")],
                          env=script_env(XDG_CACHE_HOME=str(cache)), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # stderr: the progress lines only, TF's start-up lines filtered as sine_wave.py filters them
    for line in proc.stderr.splitlines():
        assert re.match(r"seed \d+ \(\d+ of 2\) done in |4 runs in ", line), proc.stderr
    # the programs it compiled kept in the cache, as sine_wave.main keeps them; no run's folder left behind
    kept = [p.name for p in cache.glob("sine_wave/xla-*/*")]
    assert kept and all(".sha256-" in name for name in kept), kept
    with open(tmp_path / "study" / "seeds.csv") as f:
        rows = {(int(r["seed"]), r["lr_schedule"]): r for r in csv.DictReader(f)}
    assert sorted(rows) == [(3, "as-written"), (3, "stepped"), (7, "as-written"), (7, "stepped")]
    assert rows[7, "as-written"]["train_error"] != rows[7, "stepped"]["train_error"]
    for schedule in ("as-written", "stepped"):
        out = tmp_path / schedule
        cli = main("--no-show", "--seed", "7", "--epochs", "55", "--lr-schedule", schedule, "--out", out)
        assert cli.returncode == 0, cli.stderr
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["options"]["seed"] == 7 and metrics["options"]["lr_schedule"] == schedule
        row = rows[7, schedule]
        assert float(row["train_error"]) == metrics["train_error"]
        assert float(row["final_train_error"]) == metrics["final_train_error"]
        assert float(row["test_rmse_lstm"]) == metrics["test_rmse"]["lstm"]
        assert float(row["test_rmse_linear"]) == metrics["test_rmse"]["linear"]
    for name in ("seeds.md", "seeds.png"):
        assert (tmp_path / "study" / name).stat().st_size > 0
    helped = sum(float(rows[s, "as-written"]["test_rmse_lstm"]) < float(rows[s, "stepped"]["test_rmse_lstm"])
                 for s in (3, 7))
    assert f"than the intended `stepped` one for {helped} of 2 seeds" in proc.stdout
