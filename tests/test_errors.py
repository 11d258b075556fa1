"""Bad input and faults: every way a run can end in an error, and what it leaves behind.

Each case runs the command line (in this process where the promise allows, else as a user would)
and checks the exit status, a one-line message naming the problem, no traceback, and that files
that were there before are byte-identical after. Faults in the final move are injected by wrapping
`os.replace`, the call that moves each file in.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import ROOT, one_line_error, run_script, script_env, snapshot, start_script

CKPT = "sine-wave-rnn-10-10-0"
SETTINGS = {
    "hidden": 10,
    "seq_width": 10,
    "lag": 60,
    "seed": 20160310,
    "lr_schedule": "as-written",
    "epochs": 100,
}


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--epochs", "ten"], ["--epochs", "invalid int value: 'ten'"]),
        (["--epochs", "2.5"], ["--epochs", "'2.5'"]),
        (["--epochs", "-1"], ["--epochs", "expected 0 or more, got -1"]),
        (["--hidden", "0"], ["--hidden", "expected 1 to 1024, got 0"]),
        (["--hidden", "many"], ["--hidden", "'many'"]),
        (["--seq-width", "0"], ["--seq-width", "1 or more"]),
        (["--lag", "-3"], ["--lag", "0 or more, got -3"]),
        (["--hidden", "1025"], ["--hidden", "1 to 1024, got 1025"]),
        (["--seed", "x"], ["--seed", "'x'"]),
        (["--seed", "+-5"], ["--seed", "invalid int value: '+-5'"]),
        (["--seed", str(2**32)], ["--seed", str(2**32), "0 to 4294967295"]),
        (["--lag", "620", "--seq-width", "10"], ["--lag 620", "--seq-width 10", "at most 628"]),
        (["--seq-width", "700"], ["--seq-width 700", "at most 628"]),
        (["--lr-schedule", "cosine"], ["--lr-schedule", "'cosine'", "as-written", "stepped"]),
        (["--bogus"], ["--bogus"]),
    ],
)
def test_bad_option_values(earlier, main, args, fragments):
    folder, before = earlier
    proc = main(*args, "--out", folder)
    one_line_error(proc, 2, *fragments)
    assert proc.stdout == ""
    assert snapshot(folder) == before


def test_out_is_a_file(tmp_path):
    target = tmp_path / "results.txt"
    target.write_text("keep me")
    line = one_line_error(
        run_script("--out", target), 2, "--out", repr(str(target)), "not a folder"
    )
    assert target.read_text() == "keep me", line


def test_out_is_empty(main, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(main("--out", ""), 2, "--out", "''")
    one_line_error(main("--restore", "--out", ""), 2, "--out", "''")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["new\nsine_wave.py: error: forged", "red\x1b[31m", "tab\there", "up\x1b[1A\x1b[2K"]
)
def test_out_with_a_control_character_is_one_line(main, tmp_path, name):
    """Issue 25 row 14: a newline or an escape in --out cannot forge a line or colour one."""
    proc = main("--no-show", "--epochs", "1", "--out", tmp_path / name)
    line = one_line_error(proc, 2, "--out", "control character", repr(str(tmp_path / name)))
    assert "\x1b" not in proc.stderr and "\t" not in line
    assert proc.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_out_cannot_be_created(main, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = main("--no-show", "--out", blocker / "sub")
    one_line_error(proc, 2, "--out", "cannot write", repr(str(blocker / "sub")))
    assert "Epoch" not in proc.stdout and snapshot(tmp_path) == {"file": b"x"}


def test_out_cannot_be_written(main, tmp_path):
    if os.geteuid() == 0:
        # Root writes through permission bits; a read-only file system still stops it.
        target = "/proc/sine-wave-test"
    else:
        target = tmp_path / "locked"
        target.mkdir()
        target.chmod(0o500)
    proc = main("--no-show", "--out", target)
    one_line_error(proc, 2, "--out", "cannot write", repr(str(target)))
    assert "Epoch" not in proc.stdout


def test_restore_without_a_checkpoint(main, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    proc = main("--restore", "--no-show", "--out", folder)
    line = one_line_error(proc, 1, repr(str(folder / CKPT) + ".index"), "python sine_wave.py")
    assert snapshot(folder) == {"notes.txt": b"mine"}, line
    missing = tmp_path / "never-made"
    one_line_error(main("--restore", "--out", missing), 1, repr(str(missing / CKPT) + ".index"))
    assert not missing.exists()  # a failed restore makes no folder either


def test_restore_names_the_checkpoints_that_are_there(earlier, main):
    """Issue 26: --restore --out DIR, where DIR holds only a --hidden 20 checkpoint, names it."""
    folder, _ = earlier
    for suffix in (".index", ".data-00000-of-00001"):
        (folder / (CKPT + suffix)).rename(folder / ("sine-wave-rnn-20-10-0" + suffix))
    before = snapshot(folder)
    proc = main("--restore", "--no-show", "--out", folder)
    line = one_line_error(proc, 1, repr(str(folder / CKPT) + ".index"), "sine-wave-rnn-20-10-0")
    assert "create it with" not in line and "--hidden 10" not in line
    assert proc.stdout == "" and snapshot(folder) == before


@pytest.mark.parametrize(
    "damage",
    ["garbage index", "truncated index", "truncated data", "garbage data", "missing data"],
)
def test_restore_from_a_corrupt_checkpoint(earlier, main, damage):
    folder, _ = earlier
    index, data = folder / f"{CKPT}.index", folder / f"{CKPT}.data-00000-of-00001"
    if damage == "garbage index":
        index.write_bytes(os.urandom(600))
    elif damage == "truncated index":
        index.write_bytes(index.read_bytes()[:300])
    elif damage == "truncated data":
        data.write_bytes(data.read_bytes()[:1000])
    elif damage == "garbage data":
        data.write_bytes(os.urandom(data.stat().st_size))
    else:
        data.unlink()
    before = snapshot(folder)
    proc = main("--restore", "--no-show", "--out", folder)
    one_line_error(proc, 1, "cannot read checkpoint", repr(str(folder / CKPT)))
    assert snapshot(folder) == before


def test_restore_with_shapes_that_do_not_fit(earlier, main):
    folder, _ = earlier
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(folder / (CKPT + suffix), folder / ("sine-wave-rnn-20-10-0" + suffix))
    before = snapshot(folder)
    line = one_line_error(
        main("--restore", "--hidden", "20", "--out", folder),
        1,
        "other settings",
        "python sine_wave.py --out",
        "--hidden 10 --seq-width 10 --lag 60 --restore",
    )
    assert "nothing written" not in line  # checked before anything is made
    assert snapshot(folder) == before


def test_restore_never_reads_a_fifo_named_as_the_checkpoint(earlier):
    """A FIFO at the checkpoint's name (issue 25 row 12, now at --restore's file): reading it
    would wait for a writer forever. The test writes to it if the script opens it, so a broken
    run ends rather than hangs."""
    folder, before = earlier
    index = folder / f"{CKPT}.index"
    index.unlink()
    os.mkfifo(index)
    proc = start_script("--restore", "--no-show", "--out", folder)
    opened, deadline = False, time.monotonic() + 120  # a guard against a hang, not a timing
    while proc.poll() is None and not opened and time.monotonic() < deadline:
        try:
            fd = os.open(index, os.O_WRONLY | os.O_NONBLOCK)  # succeeds once a reader opened it
        except OSError:
            time.sleep(0.05)
            continue
        opened = True
        os.write(fd, b"not a checkpoint")
        os.close(fd)
    stdout, proc.stderr = proc.communicate(timeout=120)
    assert not opened, "the script opened the FIFO: without a writer it waits forever"
    assert proc.returncode in (1, 2), proc.stderr
    line = one_line_error(proc, proc.returncode, "'" + str(folder / CKPT))
    assert stdout == "", line
    assert snapshot(folder) == {k: v for k, v in before.items() if k != index.name}


def test_restore_reads_a_checkpoint_through_links(earlier, main, tmp_path):
    """A checkpoint whose two files are links to the real ones restores as the real one does."""
    folder, _ = earlier
    linked = tmp_path / "linked"
    linked.mkdir()
    for suffix in (".index", ".data-00000-of-00001"):
        (linked / (CKPT + suffix)).symlink_to(folder / (CKPT + suffix))
    proc = main("--restore", "--no-show", "--no-xla", "--out", linked)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Restoring sine-wave-rnn-10-10-0, trained with")


def test_names_of_other_checkpoints_are_quoted(earlier, main):
    """Issue 25, rows 4 and 14: a file name in --out can hold a newline or an escape; the error
    that names the checkpoints there shows it quoted, on one line."""
    folder, before = earlier
    for suffix in (".index", ".data-00000-of-00001"):
        (folder / (CKPT + suffix)).unlink()
    forged = "sine-wave-rnn-x\nsine_wave.py: error: forged"
    (folder / (forged + ".index")).write_text("")
    (folder / "sine-wave-rnn-\x1b[31mRED.index").write_text("")
    (folder / "sine-wave-rnn-dir.index").mkdir()  # not a checkpoint: not named
    proc = main("--restore", "--no-show", "--out", folder)
    line = one_line_error(proc, 1, repr(forged), repr("sine-wave-rnn-\x1b[31mRED"))
    assert "\x1b" not in line and "sine-wave-rnn-dir" not in line, line


# --- Crafted checkpoints (issue 25, rows 1 to 5): real weights, only the stored settings bad
def craft(folder, settings, name=CKPT):
    """Write a checkpoint as the script writes it, its `settings` variable holding `settings` (a
    JSON text, or bytes as they are)."""
    import sine_wave

    net = sine_wave.Network()
    saver = sine_wave.checkpoint(net, sine_wave.parse_args(["--out", str(folder)]))
    saver.settings.assign(settings)
    saver.write(str(folder / name))


def no_training(monkeypatch):
    """A run that starts training fails here, rather than training until killed."""
    import sine_wave

    def epoch(*args, **kwargs):
        raise AssertionError("--restore trained")

    monkeypatch.setattr(sine_wave.Output, "epoch", epoch)


def test_restore_never_takes_out_restore_or_epochs_from_a_checkpoint(
    earlier, main, tmp_path, monkeypatch
):
    """Rows 1 and 2: settings carrying `"out": OTHER, "restore": false` and a billion epochs."""
    folder, before = earlier
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    hostile = {
        **SETTINGS,
        "epochs": 1000000000,
        "out": str(other),
        "restore": False,
        "no_show": False,
        "no_xla": True,
        "animate": True,
    }
    craft(folder, json.dumps(hostile))
    crafted = snapshot(folder)
    no_training(monkeypatch)
    proc = main("--restore", "--no-show", "--out", folder)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "Epoch" not in proc.stdout
    assert "--epochs 1000000000" in proc.stdout  # what it read, said
    assert snapshot(other) == {"notes.txt": b"mine"}  # nothing written into OTHER
    assert not [p for p in tmp_path.iterdir() if p.name not in ("output", "other")]
    after = snapshot(folder)
    for name in (CKPT + ".index", CKPT + ".data-00000-of-00001"):
        assert after[name] == crafted[name]  # restored, not overwritten by a training run
    options = json.loads(after["metrics.json"])["options"]
    assert options == {**SETTINGS, "epochs": 1000000000, "restored": True, "xla": True}
    assert "training.gif" not in after and set(after) <= set(before)


@pytest.mark.parametrize(
    "settings, fragment",
    [
        ("[10, 10, 60]", "--hidden"),  # a list
        (json.dumps({k: v for k, v in SETTINGS.items() if k != "hidden"}), "got None"),
        (json.dumps({**SETTINGS, "seed": "x"}), "--seed: expected 0 to 4294967295, got 'x'"),
        (json.dumps({**SETTINGS, "hidden": True}), "--hidden"),
        (json.dumps({**SETTINGS, "hidden": 10.0}), "got 10.0"),
        (json.dumps({**SETTINGS, "seed": -1}), "got -1"),
        (json.dumps({**SETTINGS, "epochs": -5}), "--epochs"),
        (json.dumps({**SETTINGS, "lag": 620}), "--lag 620"),
        (json.dumps({**SETTINGS, "lr_schedule": 5}), "--lr-schedule"),
        (json.dumps({**SETTINGS, "lr_schedule": None}), "--lr-schedule"),
        (json.dumps(SETTINGS).replace("20160310", "1e400"), "--seed"),
        (json.dumps(SETTINGS).replace("20160310", "9" * 5000), ""),  # past int()'s digit limit
        ('"hidden"', ""),  # a string
        ("null", ""),
        ("{", ""),  # not JSON
        ("[" * 100000 + "]" * 100000, ""),  # deeper than Python recurses
        (b'{"hidden": 10, \xff\xfe}', ""),  # not UTF-8
    ],
)
def test_restore_refuses_settings_it_never_writes_in_one_line(earlier, main, settings, fragment):
    """Row 3: a list, no hidden, `"seed": "x"`, and more: one line, never a traceback."""
    folder, _ = earlier
    craft(folder, settings)
    before = snapshot(folder)
    proc = main("--restore", "--no-show", "--out", folder)
    line = one_line_error(proc, 1, "checkpoint", repr(str(folder / CKPT)), fragment)
    assert len(line) < 500, line
    assert proc.stdout == "" and snapshot(folder) == before


FAKE_PYTHON = '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$ARGV_FILE"\n'


def paste(line, tmp_path):
    """The command a message suggests, pasted into a shell (`python` there only records its
    arguments): the arguments python got."""
    assert line.count("python sine_wave.py") == 1, line
    command = line[line.index("python sine_wave.py") :]
    bin_dir, argv_file = tmp_path / "bin", tmp_path / "argv.txt"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "python").write_text(FAKE_PYTHON)
    (bin_dir / "python").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "ARGV_FILE": str(argv_file)}
    proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, timeout=30)
    assert proc.returncode == 0, command
    return argv_file.read_text().splitlines()


def test_a_command_in_a_setting_is_never_suggested(earlier, main, tmp_path):
    """Row 4: a `hidden` of `10; touch FILE` gives one line, and no command that runs it."""
    folder, _ = earlier
    pwned = tmp_path / "PWNED"
    craft(folder, json.dumps({**SETTINGS, "hidden": f"10; touch {pwned}"}))
    crafted = snapshot(folder)
    proc = main("--restore", "--no-show", "--out", folder)
    line = one_line_error(proc, 1, "--hidden", repr(f"10; touch {pwned}"))
    if "python sine_wave.py" in line:
        paste(line, tmp_path)
    assert not pwned.exists() and snapshot(folder) == crafted


def test_suggested_commands_quote_the_folder(main, tmp_path):
    """A folder named like a command: each suggested command, pasted, runs python alone, with
    the folder as one argument."""
    folder = tmp_path / "it's; touch PWNED $(touch PWNED2) `touch PWNED3`"
    folder.mkdir()
    line = one_line_error(main("--restore", "--no-show", "--out", folder), 1, "python sine_wave.py")
    argv = paste(line, tmp_path)
    assert argv[:3] == ["sine_wave.py", "--out", str(folder)], argv
    # A checkpoint of other settings: the command that restores it
    craft(folder, json.dumps({**SETTINGS, "hidden": 20}))
    line = one_line_error(main("--restore", "--no-show", "--out", folder), 1, "other settings")
    argv = paste(line, tmp_path)
    settings = ["--hidden", "20", "--seq-width", "10", "--lag", "60", "--restore"]
    assert argv == ["sine_wave.py", "--out", str(folder), *settings], argv
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("PWNED")]


def test_a_setting_cannot_forge_lines(earlier, main):
    """Row 5: an lr_schedule holding newlines and terminal escapes."""
    folder, _ = earlier
    forged = "as-written\nEpoch 0: 0.00000\n\x1b[2K\x1b[1Asine_wave.py: done\u2028\x9b2J\r"
    craft(folder, json.dumps({**SETTINGS, "lr_schedule": forged}))
    before = snapshot(folder)
    proc = main("--restore", "--no-show", "--out", folder)
    line = one_line_error(proc, 1, "--lr-schedule", repr(forged))
    for char in "\x1b\u2028\x9b\r":
        assert char not in proc.stderr, line
    assert proc.stdout == "" and snapshot(folder) == before


# --- Faults
def run_python(code, *args, timeout=300):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        cwd=ROOT,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_non_finite_error_stops_training_without_saving(earlier, main, monkeypatch):
    import numpy as np

    import sine_wave

    folder, before = earlier
    x, y = sine_wave.gen_seq()
    y[5] = np.nan  # poisons every output from step 5 on
    monkeypatch.setattr(sine_wave, "gen_seq", lambda: (x, y))
    proc = main("--no-show", "--out", folder)
    one_line_error(proc, 1, "training error became nan at epoch 0", "nothing written")
    assert snapshot(folder) == before


def test_a_full_disk_while_saving_leaves_earlier_results_alone(earlier, main, monkeypatch):
    import errno

    from matplotlib.figure import Figure

    real_savefig = Figure.savefig

    def savefig(self, path, *args, **kwargs):
        if os.fspath(path).endswith("training-error.png"):  # the last figure, after the checkpoint
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_savefig(self, path, *args, **kwargs)

    folder, before = earlier
    monkeypatch.setattr(Figure, "savefig", savefig)
    proc = main("--no-show", "--no-xla", "--epochs", "2", "--out", folder)
    one_line_error(
        proc, 1, f"cannot write the results to {str(folder)!r}", "No space left on device"
    )
    assert "untouched" in proc.stderr
    assert snapshot(folder) == before  # nor is a scratch folder left behind


def test_a_full_disk_writing_predictions_leaves_earlier_results_alone(earlier, main, monkeypatch):
    import errno

    import sine_wave

    def full_disk(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    folder, before = earlier
    monkeypatch.setattr(sine_wave, "write_predictions", full_disk)
    proc = main("--no-show", "--no-xla", "--epochs", "1", "--out", folder)
    one_line_error(proc, 1, "cannot write the results to", "No space left on device", "untouched")
    assert snapshot(folder) == before


def test_a_kill_while_saving_leaves_the_old_checkpoint_whole(earlier, main):
    folder, before = earlier
    proc = run_python(
        """
        import os, signal, sys, sine_wave
        tf = sine_wave.load_tensorflow()
        real_write = tf.train.Checkpoint.write
        def dying_write(self, prefix, options=None):
            real_write(self, prefix)
            with open(prefix + ".index", "r+b") as f:
                f.truncate(100)  # half-written...
            os.kill(os.getpid(), signal.SIGKILL)  # ...and the power goes
        tf.train.Checkpoint.write = dying_write
        sys.exit(sine_wave.main(sys.argv[1:]))
        """,
        "--no-show",
        "--no-xla",
        "--epochs",
        "2",
        "--out",
        folder,
    )
    assert proc.returncode == -signal.SIGKILL
    after = snapshot(folder)
    leftovers = [name for name in after if name not in before]
    assert all(name.startswith(".sine_wave-") for name in leftovers)  # only the dead run's scratch
    assert {k: v for k, v in after.items() if k in before} == before
    # The old checkpoint still restores; the killed run's scratch folder is left
    # (docs/robustness.md).
    proc = main("--restore", "--no-show", "--out", folder)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(folder)[CKPT + ".index"] == before[CKPT + ".index"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_in_training_is_one_line(earlier, main, monkeypatch, signum):
    import sine_wave

    folder, before = earlier
    real_epoch = sine_wave.Output.epoch

    def epoch(self, i, *args):
        real_epoch(self, i, *args)
        if i == 2:
            os.kill(os.getpid(), signum)

    monkeypatch.setattr(sine_wave.Output, "epoch", epoch)
    proc = main("--no-show", "--no-xla", "--epochs", "6", "--out", folder)
    name = signal.Signals(signum).name
    one_line_error(proc, 128 + signum, f"interrupted by {name} after 3 of 6 epochs", "untouched")
    assert proc.stdout.count("Epoch ") == 3
    assert snapshot(folder) == before


def test_a_broken_tensorflow_still_says_why(tmp_path):
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import os\n"
        "os.write(2, b'libtensorflow_framework.so.2: cannot open shared object file\\n')\n"
        "raise ImportError('DLL load failed')\n"
    )
    proc = run_script("--epochs", "1", "--out", tmp_path / "out", PYTHONPATH=str(tmp_path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    # What TensorFlow printed on its way down reaches the user, then our one line.
    assert "libtensorflow_framework.so.2: cannot open shared object file" in proc.stderr
    assert "cannot import TensorFlow (ImportError: DLL load failed" in proc.stderr
    assert len(proc.stderr.splitlines()) == 2 and not (tmp_path / "out").exists()


def inject(main, monkeypatch, action, at, folder):
    """Run with `action(dst)` done at the `at`-th move of a file into `folder`."""
    real, calls = os.replace, []

    def replace(src, dst):
        if os.path.dirname(os.fspath(dst)) == str(folder):
            calls.append(dst)
            if len(calls) == at:
                action(dst)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    proc = main("--no-show", "--no-xla", "--epochs", "2", "--seed", "3", "--out", folder)
    monkeypatch.setattr(os, "replace", real)
    return proc


def test_a_rename_failing_part_way_puts_every_file_back(earlier, main, monkeypatch):
    def fail(dst):
        raise PermissionError(1, "Operation not permitted", dst)

    folder, before = earlier
    proc = inject(main, monkeypatch, fail, 5, folder)
    one_line_error(proc, 1, "Operation not permitted", "untouched")
    assert snapshot(folder) == before  # the checkpoint pair too, and no scratch left


@pytest.mark.parametrize(
    "signals",
    [[signal.SIGINT], [signal.SIGTERM], [signal.SIGINT, signal.SIGINT, signal.SIGTERM]],
    ids=["SIGINT", "SIGTERM", "three"],
)
def test_signals_while_moving_in_finish_the_move_and_say_so(earlier, main, monkeypatch, signals):
    folder, before = earlier

    def send(dst):
        for signum in signals:
            os.kill(os.getpid(), signum)

    proc = inject(main, monkeypatch, send, 2, folder)
    # Which of several is named: the first the kernel hands over (lowest number first, or
    # whichever of TensorFlow's threads takes one), so any of those sent
    assert proc.returncode in {128 + s for s in signals}, proc.stderr
    name = signal.Signals(proc.returncode - 128).name
    line = one_line_error(proc, proc.returncode, f"interrupted by {name};", "already written")
    assert "nothing written" not in line and "epochs" not in line
    after = snapshot(folder)
    assert set(after) == set(before)
    changed = [name for name in before if after[name] != before[name]]
    assert set(changed) == set(before) - {"sequence.png"}, "the whole new set is in"
    assert main("--restore", "--no-show", "--out", folder).returncode == 0


def test_repeated_ctrl_c_is_one_line(earlier, tmp_path):
    """Row 9: Ctrl-C four times, 20 ms apart; nothing left behind, in --out or in HOME."""
    folder, before = earlier
    home = tmp_path / "home"
    home.mkdir()
    proc = start_script("--no-show", "--epochs", "50000", "--out", folder, HOME=str(home))
    try:
        assert proc.stdout.readline().startswith("Epoch 0: ")
        for _ in range(4):
            os.killpg(proc.pid, signal.SIGINT)
            time.sleep(0.02)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    proc.stderr = stderr
    one_line_error(proc, 130, "interrupted by SIGINT", "untouched")
    assert snapshot(folder) == before
    libraries = (".cache/matplotlib/", ".config/matplotlib", ".keras/")  # their own settings
    assert [p for p in snapshot(home) if not p.startswith(libraries)] == []


def test_restore_refuses_a_checkpoint_of_another_lag(main, tmp_path):
    proc = main("--no-show", "--epochs", "2", "--lag", "30", "--out", tmp_path / "lag30")
    assert proc.returncode == 0, proc.stderr
    before = snapshot(tmp_path / "lag30")
    proc = main("--restore", "--no-show", "--out", tmp_path / "lag30")
    one_line_error(proc, 1, "other settings", "--lag 30 --restore")
    assert snapshot(tmp_path / "lag30") == before
    proc = main("--restore", "--no-show", "--lag", "30", "--out", tmp_path / "lag30")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "lag30" / "metrics.json").read_text())
    assert metrics["options"] == {
        **SETTINGS,
        "lag": 30,
        "epochs": 2,
        "restored": True,
        "xla": True,
    }


def test_the_restore_hint_names_a_saved_lag_of_zero(main, tmp_path):
    assert main("--no-show", "--epochs", "1", "--lag", "0", "--out", tmp_path).returncode == 0
    one_line_error(
        main("--restore", "--no-show", "--out", tmp_path), 1, "other settings", "--lag 0 --restore"
    )


def test_a_checkpoint_without_settings_is_named_as_such(tf, main, tmp_path):
    import sine_wave

    net = sine_wave.Network()
    tf.train.Checkpoint(W=net.W, b=net.b).write(str(tmp_path / CKPT))
    proc = main("--restore", "--no-show", "--out", tmp_path)
    one_line_error(proc, 1, "is not this version's", "python sine_wave.py --out")
    # The previous version's checkpoint: settings, but a Keras LSTM where 0.7's LSTMCell should be.
    settings = tf.Variable('{"hidden": 10, "seq_width": 10, "lag": 60}')
    lstm = tf.train.Checkpoint(kernel=tf.Variable(tf.zeros((10, 40))))
    tf.train.Checkpoint(lstm=lstm, W=net.W, b=net.b, settings=settings).write(str(tmp_path / CKPT))
    one_line_error(main("--restore", "--no-show", "--out", tmp_path), 1, "is not this version's")


def test_a_big_network_trains(main, tmp_path):
    proc = main("--no-show", "--epochs", "2", "--hidden", "1024", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Epoch ") == 2
    assert (tmp_path / "sine-wave-rnn-1024-10-0.index").is_file()


@pytest.mark.parametrize("redirect", [">&-", "<&- 2>&-"])
def test_closed_streams(tmp_path, redirect):
    """Standard output closed (stderr watched), or input and error closed (stdout watched)."""
    script = ROOT / "sine_wave.py"
    proc = subprocess.run(
        f'"{sys.executable}" "{script}" --no-xla --epochs 1 --out "{tmp_path}" {redirect}',
        shell=True,
        env=script_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "cannot" not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr == "" and ("Wrote " in proc.stdout) == ("2>&-" in redirect)
    assert (tmp_path / "metrics.json").is_file()


def test_a_closed_pipe_ends_the_run_like_a_full_stdout(earlier):
    folder, before = earlier
    proc = start_script("--no-show", "--no-xla", "--epochs", "300", "--out", folder)
    assert proc.stdout.readline().startswith("Epoch 0: ")
    proc.stdout.close()  # the reader goes away, as `| head -1` does
    proc.stdout = None
    _, proc.stderr = proc.communicate(timeout=120)
    one_line_error(proc, 1, "cannot write the log to standard output", "Broken pipe")
    assert snapshot(folder) == before


def test_a_full_stdout_is_named(earlier, main, monkeypatch):
    folder, before = earlier
    full = open("/dev/full", "w", buffering=1)  # line-buffered, as the script makes stdout
    monkeypatch.setattr(sys, "stdout", full)
    proc = main("--no-show", "--no-xla", "--epochs", "1", "--out", folder)
    monkeypatch.undo()
    with contextlib.suppress(OSError):
        full.close()
    one_line_error(proc, 1, "cannot write the log to standard output", "No space left on device")
    assert snapshot(folder) == before


def test_the_out_folder_removed_mid_run_is_an_error(main, monkeypatch, tmp_path):
    import sine_wave

    folder = tmp_path / "out"
    real_epoch = sine_wave.Output.epoch

    def epoch(self, i, *args):
        if i == 1:
            shutil.rmtree(folder)
        return real_epoch(self, i, *args)

    monkeypatch.setattr(sine_wave.Output, "epoch", epoch)
    proc = main("--no-show", "--no-xla", "--epochs", "3", "--out", folder)
    one_line_error(proc, 1, "cannot write the results to", repr(str(folder)))
    assert not folder.exists() or os.listdir(folder) == []  # TF may make it again, empty


def test_bad_out_names_are_one_line(main, tmp_path):
    long = tmp_path / "/".join(["d" * 200] * 21)
    one_line_error(main("--no-show", "--out", long), 2, "--out", "too long")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "sine_wave.py"),
            "--out",
            os.fsencode(str(tmp_path)) + b"/caf\xe9",
        ],
        env=script_env(),
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2 and b"is not UTF-8" in proc.stderr
    assert proc.stderr.count(b"\n") == 1


@pytest.mark.parametrize("where", ["checkpoint", "step"])
def test_tensorflow_errors_are_one_line(earlier, tf, main, monkeypatch, where):
    import sine_wave

    def fail(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device\nmore detail")

    folder, before = earlier
    if where == "checkpoint":
        monkeypatch.setattr(tf.train.Checkpoint, "write", fail)
    else:
        monkeypatch.setattr(sine_wave, "make_train_op", lambda *args, **kwargs: fail)
    proc = main("--no-show", "--epochs", "2", "--out", folder)
    if where == "checkpoint":
        one_line_error(
            proc,
            1,
            "cannot write the results to",
            "No space left on device",
            "untouched",
        )
    else:
        one_line_error(
            proc,
            1,
            "TensorFlow failed: ResourceExhaustedError: No space left on device",
            "--no-xla",
        )
    assert snapshot(folder) == before
