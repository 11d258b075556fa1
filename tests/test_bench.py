"""benchmarks/bench.py --quick prints its tables, every cell filled (timings are not judged here)."""

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


def numbers(rows, first=1):
    """Every cell from column `first` on, as a float (each must be one)."""
    return [[float(cell) for cell in row[first:]] for row in rows]


def test_quick_benchmark_prints_every_table(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--hidden", "8"],
                          env=script_env(XDG_CACHE_HOME=str(tmp_path / "cache")), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (tmp_path / "cache").exists()  # its processes ran in a cache of its own, removed
    tables = list(parse_tables(proc.stdout).items())
    copies = tf_version() >= (2, 19)  # XLA's default copy insertion is measured where the flag exists
    assert len(tables) == 4 + copies, [title for title, _ in tables]
    for title, rows in tables:
        assert len(rows) > 1 and all(len(row) == len(rows[0]) and all(row) for row in rows), (title, rows)

    (title, sizes), *rest = tables
    assert title.startswith("Per epoch and peak memory against --hidden")
    assert sizes[0] == ["--hidden", "epochs", "first epoch s (trace and compile)",
                        "ms per epoch, each waited for (as the script runs)", "peak MB"]
    assert [row[0] for row in sizes[1:]] == ["8"]
    assert all(value > 0 for row in numbers(sizes[1:], 0) for value in row)
    if copies:
        (title, flag), *rest = rest
        assert "copy insertion" in title and [row[0] for row in flag[1:]] == ["8"]
        for row in flag[1:]:  # the ratio is the slower default against the script's setting, both > 0
            assert row[1] == next(r[3] for r in sizes[1:] if r[0] == row[0]) and float(row[2]) > 0
    (title, forms), (title2, runs), (title3, phases) = rest
    assert "--no-xla" in title and forms[1][2] == "1.00" and float(forms[2][1]) > 0

    assert title2.startswith("First run and re-run against import tensorflow")
    assert runs[0] == ["command", "seconds", "seconds past import tensorflow", "× import tensorflow"]
    assert "import tensorflow" in runs[1][0] and runs[1][2:] == ["0.00", "1.00"]
    assert ["first run" in runs[2][0], "re-run" in runs[3][0]] == [True, True] and len(runs) == 4
    assert all(row[0] > 0 and row[2] > 0 for row in numbers(runs[2:]))

    assert title3.startswith("Where a re-run's time goes, past import tensorflow")
    assert phases[0] == ["phase", "seconds", "% of the whole process"]
    phase = {row[0]: row[1:] for row in phases[1:]}
    numbers(phases[1:])  # every figure a number (the rest of main() may round to 0)
    for name in ("import of Matplotlib (load_pyplot)", "import tensorflow (in load_tensorflow)",
                 "the step: tracing (train_op.get_concrete_function)",
                 "the step: compile or cache load, and epoch 0 (first train_op call)",
                 "the epochs: the other 99 train_op calls", "figures (4 Output.figure calls: draw, save)",
                 "the whole process (wall)"):
        assert float(phase[name][0]) > 0, name
    assert phase["the whole process (wall)"][1] == "100.0"
    assert "metrics.json is the command's, byte for byte: yes" in proc.stdout  # the timers changed no result
