"""The faults a hostile pass found (issue 20), each as found, and a damaged compile cache.

Each case runs as a user would and checks: at most one stderr line, no traceback, the documented exit
status, --out all old or all new, no scratch folder, nothing else left behind, no user file moved.
"""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import ROOT, one_line_error, run_script, script_env, snapshot


def test_a_folder_named_as_a_result_is_the_users_and_stays(earlier, main):
    folder, _ = earlier
    (folder / "metrics.json").unlink()
    (folder / "metrics.json").mkdir()
    (folder / "metrics.json" / "notes.txt").write_text("precious")
    before = snapshot(folder)
    line = one_line_error(main("--no-show", "--epochs", "1", "--out", folder), 2, str(folder / "metrics.json"),
                          "not a file this script wrote", "untouched")
    assert snapshot(folder) == before, line  # the folder, the note and every earlier result as they were


def test_a_link_named_as_a_result_is_not_replaced(earlier, main, tmp_path):
    folder, _ = earlier
    (tmp_path / "elsewhere.png").write_bytes(b"mine")
    (folder / "sequence.png").unlink()
    (folder / "sequence.png").symlink_to(tmp_path / "elsewhere.png")
    one_line_error(main("--no-show", "--epochs", "1", "--out", folder), 2, "sequence.png", "not a file")
    assert os.path.islink(folder / "sequence.png") and (tmp_path / "elsewhere.png").read_bytes() == b"mine"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_final_clean_up_is_one_line(earlier, main, monkeypatch, signum):
    """A signal in the last milliseconds (removing the scratch folder, keeping compiled programs) waits for them."""
    import sine_wave

    folder, _ = earlier
    real = shutil.rmtree

    def rmtree(path, *args, **kwargs):
        if os.path.basename(str(path)).startswith(".sine_wave-"):
            os.kill(os.getpid(), signum)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sine_wave.shutil, "rmtree", rmtree)
    proc = main("--no-show", "--epochs", "1", "--out", folder)
    monkeypatch.setattr(sine_wave.shutil, "rmtree", real)
    line = one_line_error(proc, 128 + signum, signal.Signals(signum).name, "already written")
    assert not [n for n in os.listdir(folder) if n.startswith(".sine_wave-")], line
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == 1  # the new set is in


def test_a_closed_pipe_after_the_results_are_in_says_so(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(f'"{sys.executable}" "{ROOT / "sine_wave.py"}" --no-show --epochs 1 --out "{out}" | head -c 1',
                          shell=True, env=script_env(), capture_output=True, text=True, timeout=120)
    written = (out / "metrics.json").exists()
    if proc.stderr:  # the pipe closed while the script still wrote to it
        assert ("already written" in proc.stderr) == written and ("nothing written" in proc.stderr) == (not written)
        assert len(proc.stderr.splitlines()) == 1
    else:
        assert written


@pytest.mark.parametrize("value, fragment", [("garbage", "XLA_FLAGS='garbage' is not flags"),
                                             ("--xla_bogus_flag=1", "in XLA_FLAGS: --xla_bogus_flag=1")])
def test_bad_xla_flags_are_one_line_and_leave_nothing(tmp_path, value, fragment):
    cache = tmp_path / "cache"
    proc = run_script("--no-show", "--epochs", "1", "--out", tmp_path / "out", XLA_FLAGS=value, XDG_CACHE_HOME=str(cache))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and fragment in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()  # nothing made: TensorFlow loads before the first file
    assert not list((cache / "sine_wave").rglob("*"))  # XLA ended the process before TF's first save


def test_a_bad_matplotlib_backend_is_one_line(tmp_path):
    one_line_error(run_script("--epochs", "1", "--out", tmp_path, MPLBACKEND="bogus"), 1,
                   "cannot load Matplotlib", "'bogus' is not a valid value for backend")


def test_an_unwritable_home_leaves_nothing_behind(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = run_script("--no-show", "--epochs", "1", "--out", tmp_path / "out", HOME="/proc", TMPDIR=str(scratch),
                      XDG_CACHE_HOME="", XDG_CONFIG_HOME="")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stderr.splitlines()) <= 1 and "Traceback" not in proc.stderr  # Matplotlib's own advice, if any
    assert list(scratch.iterdir()) == []  # Matplotlib's temporary folder went


def test_an_out_too_long_for_the_checkpoint_is_refused_before_training(tmp_path):
    long = str(tmp_path / "/".join(["d" * 200] * 20))
    long = long[:4000]  # makedirs succeeds; the checkpoint's temporary files would not fit
    proc = run_script("--no-show", "--out", long)
    one_line_error(proc, 2, "--out", "too long")
    assert "Epoch" not in proc.stdout


def test_a_dangling_link_as_out_is_not_a_folder(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    one_line_error(run_script("--out", tmp_path / "link"), 2, "is not a folder")


def test_a_damaged_compile_cache_changes_nothing(tmp_path):
    """Every cached program damaged (two sound ones under each other's names, one garbage, a truncated and an
    empty stranger beside it): the next run compiles afresh, prints the same log with an empty stderr, and keeps
    sound programs again."""
    cache = tmp_path / "cache"
    logs = []
    for damage in (False, True):
        if damage:
            entries = sorted(cache.rglob("*.sha256-*"))
            assert len(entries) >= 3  # the warm-up, the prediction, the step
            (a, da), (b, db) = (entry.name.rsplit(".sha256-", 1) for entry in entries[:2])
            entries[0].rename(entries[0].parent / f"{b}.sha256-{da}")  # swapped, each with its own checksum
            entries[1].rename(entries[1].parent / f"{a}.sha256-{db}")
            data = entries[2].read_bytes()
            entries[2].write_bytes(os.urandom(len(data)))
            (entries[2].parent / (entries[2].name[:-64] + "1" * 64)).write_bytes(data[: len(data) // 2])
            (entries[2].parent / ("xla_compile_cache__1__2__XLA_CPU_JIT.pb.sha256-" + "0" * 64)).write_bytes(b"")
        proc = run_script("--no-show", "--epochs", "3", "--out", tmp_path / "out", XDG_CACHE_HOME=str(cache))
        assert proc.returncode == 0 and proc.stderr == "", (damage, proc.stderr)
        logs.append([line for line in proc.stdout.splitlines() if line.startswith("Epoch")])
        assert not list(cache.rglob(".run-*"))  # the run's own folder went
    assert logs[0] == logs[1] and len(logs[0]) == 3
    kept = sorted(cache.rglob("*.sha256-*"))
    assert len(kept) >= 3 and all(sine_wave_sha256(p) == p.name.rsplit("-", 1)[1] for p in kept)


def sine_wave_sha256(path):
    """The checksum of an entry's name (as TF reads it) and its bytes."""
    import hashlib

    return hashlib.sha256(path.name.rsplit(".sha256-", 1)[0].encode() + path.read_bytes()).hexdigest()


def test_a_second_run_moves_its_files_in_only_when_the_first_is_done(earlier):
    """Two runs into one folder take turns in the move: here the test holds the folder's lock, as a first run would."""
    import fcntl
    import time

    from conftest import start_script

    folder, before = earlier
    lock = os.open(folder, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    proc = start_script("--no-show", "--epochs", "2", "--seed", "5", "--out", folder)
    try:
        lines = []
        while not any(line.startswith("(y repeats") for line in lines):  # the metrics are out: the move is next
            lines.append(proc.stdout.readline())
            assert lines[-1], "the run ended early"
        time.sleep(2.0)
        now = snapshot(folder)
        assert proc.poll() is None  # waiting for the lock
        assert all(k.startswith(".sine_wave-") for k in now.keys() - before.keys())  # its files still in its scratch
        assert {k: v for k, v in now.items() if k in before} == before  # nothing moved yet
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0 and stderr == "", stderr
    assert stdout.count("Wrote ") == 1 and json.loads((folder / "metrics.json").read_text())["options"]["seed"] == 5


def test_earlier_versions_files_go_only_when_their_first_bytes_show_it(earlier, main):
    """predictions.csv and training.gif of earlier versions go; a file of yours with the same name stays."""
    folder, _ = earlier
    (folder / "predictions.csv").write_text("x,half,target,prediction\n0.0,train,1.0,2.0\n")
    (folder / "training.gif").write_bytes(b"GIF89a\x80\x02@\x01" + b"\0" * 50)  # 640 x 320, as they wrote it
    proc = main("--no-show", "--epochs", "1", "--out", folder)
    assert proc.returncode == 0 and "removed an earlier run's predictions.csv, training.gif" in proc.stdout, proc.stderr
    assert not (folder / "predictions.csv").exists() and not (folder / "training.gif").exists()
    (folder / "predictions.csv").write_text("mine\n")
    (folder / "training.gif").write_bytes(b"GIF89a\x10\x00\x10\x00")  # a GIF of another size
    proc = main("--no-show", "--epochs", "1", "--out", folder)
    assert proc.returncode == 0 and "removed" not in proc.stdout, proc.stderr
    assert (folder / "predictions.csv").read_text() == "mine\n" and (folder / "training.gif").stat().st_size == 10


@pytest.mark.skipif(sys.platform != "linux", reason="elsewhere a signal may reach Python after the __del__ returns")
def test_a_signal_whose_raise_a_finalizer_swallowed_still_ends_the_run(earlier, main, monkeypatch):
    """A signal that lands inside a finalizer (where Python drops the exception) still ends the run with its status,
    in one line: at the first epoch, after training but before the move (nothing written), and in the last
    milliseconds (as a hostile pass found, TF's __del__)."""
    import gc

    import sine_wave

    folder, before = earlier

    class Finalized:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)

    real_epoch, real_commit = sine_wave.Output.epoch, sine_wave.Output.commit

    def epoch(self, i, err):
        Finalized()  # collected at once: the signal lands in its __del__
        gc.collect()
        return real_epoch(self, i, err)

    monkeypatch.setattr(sine_wave.Output, "epoch", epoch)
    line = one_line_error(main("--no-show", "--epochs", "3", "--out", folder), 143, "SIGTERM after 1 of 3 epochs",
                          "nothing written")
    assert snapshot(folder) == before, line

    real_figure = sine_wave.Output.figure

    def figure(self, name, *args, **kwargs):
        if name == "training-complete.png":
            Finalized()
        return real_figure(self, name, *args, **kwargs)

    monkeypatch.setattr(sine_wave.Output, "epoch", real_epoch)
    monkeypatch.setattr(sine_wave.Output, "figure", figure)
    line = one_line_error(main("--no-show", "--epochs", "2", "--out", folder), 143, "SIGTERM", "nothing written")
    assert snapshot(folder) == before, line

    def commit(self):
        gone = real_commit(self)
        Finalized()
        return gone

    monkeypatch.setattr(sine_wave.Output, "figure", real_figure)
    monkeypatch.setattr(sine_wave.Output, "commit", commit)
    one_line_error(main("--no-show", "--epochs", "1", "--out", folder), 143, "SIGTERM", "already written")
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == 1


def test_an_ignored_hang_up_stays_ignored(earlier, main, monkeypatch):
    """`nohup python sine_wave.py &`: a SIGHUP ignored when the run starts stays ignored."""
    import sine_wave

    folder, _ = earlier
    real_epoch = sine_wave.Output.epoch

    def epoch(self, i, err):
        os.kill(os.getpid(), signal.SIGHUP)  # a hang-up at every epoch
        return real_epoch(self, i, err)

    monkeypatch.setattr(sine_wave.Output, "epoch", epoch)
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        proc = main("--no-show", "--epochs", "2", "--out", folder)
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == 2


def test_a_log_the_terminal_cannot_encode_is_one_line(main, monkeypatch, tmp_path):
    """PYTHONIOENCODING=ascii and an --out in another script: one line, saying the results are in."""
    import io

    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    one_line_error(main("--no-show", "--epochs", "1", "--out", tmp_path / "é"), 1,
                   "cannot write the log to standard output", "'ascii' codec can't encode", "already written")
    assert (tmp_path / "é" / "metrics.json").exists()
