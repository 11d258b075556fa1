"""The source: the post's own lines in the story, the file's measure, and the formatter."""

import ast
import re
import subprocess
import sys

from conftest import POST_CHAIN, ROOT

SOURCE = (ROOT / "sine_wave.py").read_text()
LINES = SOURCE.splitlines()
FENCE = next(n for n, line in enumerate(LINES) if re.fullmatch(r"# ={40,}", line))
STORY = LINES[:FENCE]
STORY_TEXT = "\n".join(STORY)
STORY_CODE = [line.split("  # ")[0].strip() for line in STORY]  # without trailing comments


def story_function(name):
    """The story's (above the fence) top-level function `name`, parsed."""
    tree = ast.parse(STORY_TEXT)
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    return node


def test_the_story_quotes_the_posts_lines():
    """Issue 26: where TF 2 takes the post's line, the story has it as the post wrote it, as code
    (not a comment), above the fence."""
    for line in [
        "lr = tf.Variable(0., trainable=False, name='lr')",
        "error = tf.pow(tf.reduce_sum(tf.pow(tf.subtract(output, seq_target), 2)), .5)",
        "print('Epoch %d: %1.5f' % (i, err))",
    ]:
        assert line in STORY_CODE, line
    for pattern in [
        r"\w+ = tf\.compat\.v1\.train\.AdamOptimizer\(lr\)",
        r".*= tf\.random_uniform_initializer\(-\.1, \.1[,)].*",
        r".*tf\.clip_by_global_norm\(.+, 5\.\)",
    ]:
        assert any(re.fullmatch(pattern, line) for line in STORY_CODE), pattern
    for line in ("lr = tf.Variable", "error = tf.pow", "clip_by_global_norm", "AdamOptimizer("):
        assert line not in "\n".join(LINES[FENCE:]), f"{line} below the fence"


def test_the_learning_rate_chain_is_the_posts_inline_in_the_loop():
    """The post's `if i > 25 / elif i > 50 / elif i > 75` chain, statement for statement, at the
    top of run()'s `for i in range(...)` loop, which assigns the rate, runs the step and prints."""
    post = POST_CHAIN
    run = story_function("run")
    loops = [
        n
        for n in ast.walk(run)
        if isinstance(n, ast.For)
        and ast.unparse(n.target) == "i"
        and ast.unparse(n.iter).startswith("range(")
    ]
    assert len(loops) == 1, "one `for i in range(...)` loop in run()"
    (loop,) = loops
    want = [ast.dump(statement) for statement in ast.parse(post).body]
    assert [ast.dump(statement) for statement in loop.body[:2]] == want
    # The post's spelling, line for line
    body = ast.get_source_segment(STORY_TEXT, loop)
    lines = [line.split("  # ")[0].strip() for line in body.splitlines()]
    chain = [line.strip() for line in post.strip().splitlines()]
    start = lines.index(chain[0])
    assert lines[start : start + len(chain)] == chain
    later = [ast.unparse(statement) for statement in loop.body[2:]]
    assert "lr.assign(new_lr)" in later  # session.run(tf.assign(lr, new_lr))
    # ast.unparse writes the tuple in brackets before Python 3.11
    assert any(re.fullmatch(r"\(?err, net_outs\)? = train_op\(.*\)", s) for s in later)
    assert later.index("lr.assign(new_lr)") < next(
        n for n, s in enumerate(later) if s.lstrip("(").startswith("err, net_outs")
    )


def test_print_is_pythons_own():
    tree = ast.parse(SOURCE)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            assert node.name != "print", node.lineno
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            assert node.id != "print", node.lineno
        if isinstance(node, ast.alias):
            assert (node.asname or node.name) != "print", node.lineno
    assert not re.search(r"\bdef print\b|builtins\.print\s*=", SOURCE)


def test_the_file_s_measure():
    """Issue 25: at most 800 lines, the story above the fence at most 260, no line over 100."""
    assert len(STORY) <= 260, len(STORY)
    assert len(LINES) <= 800, len(LINES)
    long = [n + 1 for n, line in enumerate(LINES) if len(line) > 100]
    assert long == [], f"lines over 100 characters: {long}"


def ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_ruff_format_and_check_are_clean():
    """`ruff format --check` and `ruff check` on the project, with its ruff.toml (ruff is in
    requirements-dev.txt)."""
    version = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True)
    assert version.returncode == 0, "ruff is not installed: pip install -r requirements-dev.txt"
    formatted = ruff("format", "--check")
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    checked = ruff("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
