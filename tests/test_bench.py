"""benchmarks/bench.py --quick prints its six tables, every cell filled (timings are not judged here)."""

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


def number(cell):
    return float(re.sub(r"[^\d.]", "", cell.split()[0]))


def test_quick_benchmark_prints_every_table():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick"],
                          env=script_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tables = parse_tables(proc.stdout)
    titles = list(tables)
    assert len(titles) == 6, titles
    phases, forms, split, arithmetic, whole, lengths = (tables[t] for t in titles)
    assert titles[0].startswith("Phases") and phases[0] == ["phase", "ms"]
    assert len(phases) == 1 + 8
    for name in ("import TensorFlow", "first training step", "steady-state epoch", "checkpoint", "figures"):
        assert any(name in row[0] for row in phases), name
    assert all(number(row[1]) > 0 for row in phases[1:])
    assert forms[0] == ["form", "ms per epoch", "× the XLA step"] and len(forms) == 1 + 3
    assert [number(row[2]) for row in forms[1:]][0] == 1.0
    assert "XLA" in forms[1][0] and "no-xla" in forms[2][0] and "fit" in forms[3][0]
    assert split[0] == ["part", "ms", "share"] and len(split) == 1 + 6
    assert number(split[1][1]) > 0 and split[5][2] == "100 %" and "one ahead" in split[6][0]
    # The parts add up to the whole epoch (each is rounded to a microsecond).
    assert abs(sum(float(row[1]) for row in split[1:5]) - float(split[5][1])) < 0.005
    assert number(split[6][1]) > 0
    assert len(arithmetic) == 1 + 6 and all(number(row[1]) > 0 for row in arithmetic[1:])
    assert whole[0] == ["command", "seconds", "× import tensorflow"] and len(whole) == 1 + 2
    assert number(whole[1][2]) == 1.0 and number(whole[2][1]) > 0
    default_copies = tf_version() >= (2, 19)  # a column measured with XLA's default copy insertion too
    assert lengths[0] == ["sequence length", "ms per epoch", "µs per time step"] + \
        ["µs per step, XLA's default copy insertion"] * default_copies
    assert [number(row[0]) for row in lengths[1:4]] == [314, 628, 1256] and "post's" in lengths[2][0]
    for row in lengths[1:4]:  # ms per epoch / length = µs per time step
        assert number(row[1]) > 0 and abs(1000 * number(row[1]) / number(row[0]) - number(row[2])) < 0.01
        assert len(row) == len(lengths[0]) and all(number(cell) > 0 for cell in row[2:])
    fits = lengths[4:]
    assert len(fits) == 1 + default_copies and all("at L = 628 the L² term is" in row[0] for row in fits)
