"""benchmarks/bench.py --quick prints every table, every figure a positive number (timings are not
judged here); --against runs another checkout's sine_wave.py in the same rounds."""

import re
import shutil
import subprocess
import sys

from conftest import ROOT, SCRIPT, script_env, tf_version


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


def positive(rows, first=1):
    """Every cell from column `first` on, as a float; each must be one, and above zero."""
    values = [[float(cell) for cell in row[first:]] for row in rows]
    assert all(value > 0 for row in values for value in row), rows
    return values


def bench(tmp_path, *args):
    """`benchmarks/bench.py --quick --hidden 8 ARGS`: its first line and its tables."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--hidden", "8", *args]
    env = script_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (tmp_path / "cache").exists()  # its processes ran in a cache of their own, removed
    assert "cores, Python " in proc.stdout.splitlines()[0]  # the machine, stated
    for title, rows in parse_tables(proc.stdout).items():
        assert len(rows) > 1 and all(len(row) == len(rows[0]) and all(row) for row in rows), (
            title,
            rows,
        )
    return proc.stdout, list(parse_tables(proc.stdout).items())


SIZES = ["--hidden", "epochs", "first epoch s (trace and compile)", "ms per epoch, each waited for"]


def test_against_another_checkout_in_the_same_rounds(tmp_path):
    other = tmp_path / "other"  # another checkout's sine_wave.py: here a copy of this one
    other.mkdir()
    shutil.copy(SCRIPT, other / "sine_wave.py")
    _, tables = bench(tmp_path, "--against", str(other), "--tables", "epochs", "paired")
    [(title, sizes), (title2, paired)] = tables
    assert title.startswith("Per epoch and peak memory against --hidden")
    assert sizes[0] == [
        *SIZES,
        "peak MB",
        f"--against {other}: first epoch s",
        f"--against {other}: ms per epoch",
        f"--against {other}: peak MB",
        f"this checkout's ms ÷ --against {other}'s (the rounds' median)",
    ]
    assert [row[0] for row in sizes[1:]] == ["8"]
    positive(sizes[1:], 0)

    assert (
        title2 == f"Per epoch, this checkout and --against {other} in one process, epoch by epoch"
    )
    assert paired[0][:4] == [
        "--hidden",
        "epochs, each",
        "ms per epoch, this checkout",
        "ms per epoch, --against",
    ]
    assert [row[0] for row in paired[1:]] == ["8"] and len(paired[0]) == 7
    ratio, low, high = map(float, paired[1][4:7])
    assert low <= ratio <= high  # the median of the rounds' ratios, between the lowest and highest
    positive(paired[1:], 0)


def test_quick_benchmark_prints_every_table(tmp_path):
    stdout, tables = bench(tmp_path)
    copies = tf_version() >= (2, 19)  # XLA's default copy insertion, where the flag exists
    assert len(tables) == 4 + copies, [title for title, _ in tables]

    (title, sizes), *rest = tables
    assert title.startswith("Per epoch and peak memory against --hidden")
    assert sizes[0] == [*SIZES, "peak MB"]
    assert [row[0] for row in sizes[1:]] == ["8"]
    positive(sizes[1:], 0)
    ms = sizes[1][3]
    if copies:
        (title, flag), *rest = rest
        assert "copy insertion" in title and [row[0] for row in flag[1:]] == ["8"]
        assert flag[1][1] == ms  # the same processes as the table before
        positive(flag[1:])

    (title, forms), (title2, runs), (title3, phases) = rest
    assert "--no-xla" in title and [row[0] for row in forms[1:]] == [
        "XLA (`jit_compile=True`)",
        "`--no-xla`",
    ]
    assert forms[1][2:] == [ms, "1.00"]
    positive(forms[1:])

    assert title2.startswith("The whole run against import tensorflow")
    assert runs[0] == [
        "command",
        "seconds",
        "seconds past import tensorflow",
        "× import tensorflow",
        "× `sine_wave.py --no-show`",
    ]
    assert [row[0] for row in runs[1:]] == [
        '`python -c "import tensorflow"`',
        "`python sine_wave.py --no-show`",
    ]
    assert runs[1][2:4] == ["0.00", "1.00"] and runs[2][4] == "1.00"
    for row in runs[1:]:  # seconds and ratios; past the import, a number (noise can sink it)
        float(row[2])
        positive([row[:2] + row[3:]])

    assert title3.startswith("Where a run's time goes")
    assert phases[0] == ["phase", "seconds", "% of the whole process"]
    phase = {row[0]: row[1:] for row in phases[1:]}
    for row in phases[1:]:  # every figure a number; the short phases may round to 0
        assert float(row[1]) >= 0 and float(row[2]) >= 0, row
    for name in (
        "import of Matplotlib (load_pyplot)",
        "import tensorflow (in load_tensorflow)",
        "the step: XLA's compile and epoch 0 (first train_op call)",
        "the epochs: the other 99 train_op calls",
        "figures (4 Output.figure calls: draw, save)",
        "Python's exit, TensorFlow's teardown with it: after main()",
        "the whole process (wall)",
    ):
        assert float(phase[name][0]) > 0, name
    tracing = next(name for name in phase if name.startswith("the step: tracing"))
    assert float(phase[tracing][0]) > 0
    assert phase["the whole process (wall)"][1] == "100.0"
    assert (
        "metrics.json is the command's, byte for byte: yes" in stdout
    )  # the timers change nothing
