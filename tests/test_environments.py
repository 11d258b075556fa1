"""Wherever the post's readers run it: a notebook kernel, with or without Keras; XLA or not."""

import json
import os
import re

import pytest
from conftest import SCRIPT, run_script, script_env, tf_version, xla_flags_before

FIGURES = [
    "sequence.png",
    "sequence-and-network-output.png",
    "training-error.png",
    "training-complete.png",
]


def test_percent_run_twice_in_a_real_notebook_kernel(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        f"%run {SCRIPT} --epochs 3 --out {tmp_path / 'first'}",
        f"%run {SCRIPT} --epochs 2 --lr-schedule stepped --out {tmp_path / 'second'}",
        "print('alive', 6 * 7)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    env = script_env()
    env.pop("CI", None)
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this environment
    try:
        nbclient.NotebookClient(
            nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    first, second, third = (cell["outputs"] for cell in nb.cells)
    for outputs, epochs in ((first, 3), (second, 2)):
        kinds = [o["output_type"] for o in outputs]
        text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
        log = [line.split(":")[0] for line in text.splitlines() if line.startswith("Epoch ")]
        assert log == [f"Epoch {i}" for i in range(epochs)], text
        assert "error" not in kinds, outputs
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert len(images) == len(FIGURES), kinds  # one inline figure each
    # The kernel lives
    assert third == [{"output_type": "stream", "name": "stdout", "text": "alive 42\n"}]
    options = json.loads((tmp_path / "second" / "metrics.json").read_text())["options"]
    assert options["lr_schedule"] == "stepped"


def test_main_twice_in_one_process_gives_the_same_run(tf, tmp_path, capsys):
    import sine_wave

    for name in "ab":
        assert sine_wave.main(["--no-show", "--epochs", "4", "--out", str(tmp_path / name)]) == 0
    a, b = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in "ab")
    assert a == b and a["epochs"] == 4
    assert capsys.readouterr().out.count("Epoch 3: ") == 2


def test_runs_without_keras(tmp_path):
    """The script uses no Keras (requirements.txt does not list it): a `keras` that fails on import,
    first on the path, changes nothing, and so no Keras setting (KERAS_BACKEND, say) can."""
    poison = tmp_path / "poison" / "keras"
    poison.mkdir(parents=True)
    (poison / "__init__.py").write_text("raise ImportError('keras was imported')\n")
    proc = run_script("--epochs", "2", "--out", tmp_path / "out", PYTHONPATH=str(poison.parent))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and "Epoch 1: " in proc.stdout
    assert (tmp_path / "out" / "metrics.json").is_file()


def whole_sequence_copies_per_step(dump):
    """Copies of a whole-sequence buffer ([628, 10] or [628, 1, 10]) inside the loop bodies of the
    dumped training step."""
    text = next(dump.glob("*train_op*after_optimizations.txt")).read_text()
    bodies = set(re.findall(r"body=%?([\w.\-]+)", text))
    count, current = 0, None
    for line in text.splitlines():
        header = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
        if header:
            current = header.group(1)
        elif current in bodies and re.search(r"= f32\[628,(1,)?10\]\{[0-9,]+\} copy\(", line):
            count += 1
    return count


def test_no_xla_compiles_nothing_with_xla(tmp_path):
    dump = tmp_path / "dump"
    args = ["--no-show", "--epochs", "2", "--no-xla", "--out", tmp_path / "out"]
    proc = run_script(*args, XLA_FLAGS=f"--xla_dump_to={dump}")
    assert proc.returncode == 0, proc.stderr
    assert not (dump.exists() and any(dump.iterdir()))  # the XLA runs below fill theirs


def test_xla_copies_no_whole_sequence_per_step_and_leaves_xla_flags_alone(tf, tmp_path):
    """sine_wave.XLA_COPY_FLAG (TF >= 2.19) removes XLA's whole-buffer copies per backward step;
    the same numbers."""
    version = tf_version()
    runs = {}
    for user_flag in ("", " --xla_cpu_copy_insertion_use_region_analysis=false"):
        if user_flag and version < (2, 19):
            # That XLA does not know the flag (and would abort on it): the script never sets it
            continue
        dump = tmp_path / f"dump{bool(user_flag)}"
        args = ["--no-show", "--epochs", "3", "--out", tmp_path / "out"]
        proc = run_script(*args, XLA_FLAGS=f"--xla_dump_to={dump}{user_flag}")
        assert proc.returncode == 0, proc.stderr
        assert any(dump.iterdir())
        runs[user_flag] = (
            [line for line in proc.stdout.splitlines() if line.startswith("Epoch")],
            whole_sequence_copies_per_step(dump),
        )
    log, copies = runs[""]
    assert (copies == 0) == (version >= (2, 19))
    if version >= (2, 19):
        log_default, copies_default = runs[" --xla_cpu_copy_insertion_use_region_analysis=false"]
        # The user's setting wins; the same numbers
        assert log_default == log and copies_default == 2
    # This process's own start-up (the tf fixture) put it back
    assert os.environ.get("XLA_FLAGS") == xla_flags_before
