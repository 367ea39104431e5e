"""README.md and docs/*.md: every relative link and image resolves, every `dcgan-tf` line parses."""

import re
import shlex
from pathlib import Path

import click
import pytest

from dcgan_tf_cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)
SHELL = ("bash", "sh", "shell", "console", "")
GROUP_FLAGS = {"--verbose", "--help", "-h", "--version"}


def _slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _prose(text):
    return FENCE.sub("", text)


def _anchors(path):
    return {_slug(line.lstrip("#")) for line in _prose(path.read_text(encoding="utf-8")).splitlines()
            if line.startswith("#")}


def _links(path):
    return [m.group(1) for m in LINK.finditer(_prose(path.read_text(encoding="utf-8")))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_and_images_resolve(page):
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{page.name}: {broken}"


def _command_lines(text):
    """Each `dcgan-tf ...` command of the page's shell code blocks, as a token list."""
    for lang, block in FENCE.findall(text):
        if lang not in SHELL:
            continue
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError:
                continue  # a multi-line quoted argument of another program (echo, python -c)
            command = []
            for token in tokens + [";"]:
                if token in ("&&", "||", ";", "|", "&") or token.endswith(";"):
                    if command and command[0] == "dcgan-tf":
                        yield command
                    command = []
                elif command or token == "dcgan-tf":
                    command.append(token)


def _check(tokens):
    """The problem with one `dcgan-tf` command line, or None."""
    args = tokens[1:]
    while args and args[0] in GROUP_FLAGS:
        args = args[1:]
    if not args:
        return None
    name, rest = args[0], args[1:]
    command = cli.commands.get(name)
    if command is None:
        return f"no command {name!r}"
    options = {opt: p for p in command.params if isinstance(p, click.Option) and not p.hidden
               for opt in [*p.opts, *p.secondary_opts]}
    options.update({"--help": None, "-h": None})
    for token in rest:
        if token.startswith("--") or re.fullmatch(r"-[a-zA-Z]", token):
            flag = token.split("=", 1)[0]
            if flag not in options:
                return f"{name}: no option {flag}"
    try:
        command.make_context(name, list(rest), resilient_parsing=True)
    except click.ClickException as e:
        return f"{name}: {e.format_message()}"
    return None


INLINE = re.compile(r"(?<!`)`(dcgan-tf(?: [^`]*)?)`(?!`)")


def _inline_commands(text):
    """Each `dcgan-tf ...` written as inline code in the page's prose, as a token list;
    `...` stands for arguments left out and an upper-case word (COMMAND) for a placeholder."""
    for match in INLINE.finditer(_prose(text)):
        try:
            tokens = shlex.split(match.group(1))
        except ValueError:
            continue
        tokens = [t for t in tokens if t != "..."]
        if any(t.isupper() and t.isalpha() and i <= 2 and t not in GROUP_FLAGS
               for i, t in enumerate(tokens[1:], 1) if not t.startswith("-")) and len(tokens) <= 3:
            continue  # `dcgan-tf --verbose COMMAND`: a pattern, not a command
        yield tokens


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_dcgan_tf_command_parses(page):
    text = page.read_text(encoding="utf-8")
    lines = list(_command_lines(text)) + list(_inline_commands(text))
    problems = [f"{' '.join(t)} -> {p}" for t in lines if (p := _check(t))]
    assert not problems, "\n".join(problems)


def test_the_checks_catch_what_they_are_for(tmp_path):
    assert _check(["dcgan-tf", "probe", "--classifier", "svm", "--model", "m", "--dataset", "digits"]) is None
    assert _check(["dcgan-tf", "--verbose", "export", "runs/digits", "--jit", "on"]) is None
    assert "no option --walk" in _check(["dcgan-tf", "interpolate", "--walk", "1,2"])
    assert "no command" in _check(["dcgan-tf", "trian"])
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [bad](#nope) [gone](missing.md)\n"
                    "```bash\ndcgan-tf train --epochs 2 && dcgan-tf export runs/x \\\n"
                    "  --nme x   # typo\n```\n")
    assert [" ".join(t) for t in _command_lines(page.read_text())] == [
        "dcgan-tf train --epochs 2", "dcgan-tf export runs/x --nme x"]
    assert _links(page) == ["#title", "#nope", "missing.md"]
    assert _anchors(page) == {"title"}


def test_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    sections = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    for wanted in ("Install", "Quick start", "Your own images", "GPUs", "Where outputs go",
                   "Serve with TF Serving", "Commands", "Documentation"):
        assert wanted in sections, wanted
    quick = text.split("## Quick start")[1].split("## ")[0]
    assert "tensorflow_model_server" not in quick  # the copy-paste path needs no server
    assert "issue" not in text.lower()  # no study history in the front door
    assert text.splitlines()[3:5] == [
        'pip install -e . && dcgan-tf train          # install, then train a DCGAN on the embedded '
        'digits (a few minutes on a CPU)',
        'pip install -e ".[test]" && python -m pytest -q   # run the tests']
    # A row in the command table for every command.
    for name in cli.commands:
        assert f"| `dcgan-tf {name}" in text, name


def test_inline_code_is_checked_too():
    text = "Run `dcgan-tf train --epochs 2`, then `dcgan-tf export RUN --nme x` or `dcgan-tf --verbose COMMAND`.\n"
    found = [" ".join(t) for t in _inline_commands(text)]
    assert found == ["dcgan-tf train --epochs 2", "dcgan-tf export RUN --nme x"]
    assert "no option --nme" in _check(found and list(_inline_commands(text))[1])


def test_architecture_names_every_sub_package():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted(p.parent.name for p in (ROOT / "dcgan_tf").glob("*/__init__.py"))
    assert packages
    missing = [p for p in packages if f"{p}/" not in text and f"dcgan_tf.{p}" not in text]
    assert not missing, f"docs/architecture.md does not name: {missing}"
    for stale in ("run(...)",):
        assert stale not in text


def test_guarantees_name_tests_that_exist():
    """docs/guarantees.md: every test it names is defined in its file (a bare name: test_edges)."""
    text = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")
    cited = re.findall(r"`(?:(tests/test_\w+\.py)::\s*)?(test_\w+)`", text)
    assert len(cited) > 50, cited
    missing = [f"{path or 'tests/test_edges.py'}::{name}" for path, name in cited
               if not re.search(rf"^def {name}\(", (ROOT / (path or "tests/test_edges.py"))
                                .read_text(encoding="utf-8"), re.M)]
    assert missing == []
