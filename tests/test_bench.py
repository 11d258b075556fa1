"""benchmarks/bench.py --quick prints its four tables, every cell filled (timings are not judged here)."""

import re
import subprocess
import sys

from conftest import ROOT, script_env, tf_version


def parse_tables(text):
    """{title: [rows as lists of cells]} for every '### title' Markdown table."""
    tables, title = {}, None
    for line in text.splitlines():
        if line.startswith("### "):
            title = line[4:].strip()
            tables[title] = []
        elif title and line.startswith("|") and not re.fullmatch(r"\|[-:|]+\|", line):
            tables[title].append([cell.strip() for cell in line.strip("|").split("|")])
    return tables


def test_quick_benchmark_prints_every_table():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--hidden", "8"],
                          env=script_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tables = list(parse_tables(proc.stdout).items())
    copies = tf_version() >= (2, 19)  # XLA's default copy insertion is measured where the flag exists
    assert len(tables) == 3 + copies, [title for title, _ in tables]
    (title, sizes), *rest = tables
    assert title.startswith("Per epoch and peak memory against --hidden")
    assert sizes[0][:6] == ["--hidden", "epochs", "first epoch s", "ms per epoch, each waited for",
                            "ms per epoch, overlapped (as the script runs)", "peak MB"]
    assert [row[0] for row in sizes[1:]] == ["8"]
    assert all(float(cell) > 0 for row in sizes[1:] for cell in row)
    if copies:
        (title, flag), *rest = rest
        assert "copy insertion" in title and [row[0] for row in flag[1:]] == ["8"]
        for row in flag[1:]:  # the ratio is the slower default against the script's setting, both > 0
            assert row[1] == next(r[3] for r in sizes[1:] if r[0] == row[0]) and float(row[2]) > 0
    (title, forms), (title2, whole) = rest
    assert "--no-xla" in title and forms[1][2] == "1.00" and float(forms[2][1]) > 0
    assert whole[0] == ["command", "seconds", "× import tensorflow"] and whole[1][2] == "1.00"
    assert "sine_wave.py --no-show" in whole[2][0] and float(whole[2][1]) > 0
