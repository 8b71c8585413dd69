"""The project documents itself: no file points at a design kept outside the repository,
and every repository path written in backticks in docs/architecture.md exists, so the
map stays true as the code moves."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
# Spelled in pieces so this file does not match itself.
OUTSIDE = ("../" + "shared", "DESIGN" + ".md")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`\n]+)`")
# A relative path: starts with a name (not /, ., ~), names joined by /, maybe a trailing /.
PATH = re.compile(r"[A-Za-z0-9_][\w.-]*(?:/[\w.-]+)*/?")
FILE_SUFFIXES = (".py", ".md", ".sh", ".toml", ".yaml", ".xml", ".service", ".h")


def project_files() -> list[str]:
    """Tracked files and new ones not ignored (so a file is checked before its commit)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return sorted({name for name in out.decode().split("\0") if name and (ROOT / name).is_file()})


def text_of(name: str) -> str | None:
    data = (ROOT / name).read_bytes()
    if b"\0" in data:
        return None  # binary
    return data.decode("utf-8", errors="replace")


def test_no_file_points_outside_the_repository() -> None:
    offenders = []
    for name in project_files():
        text = text_of(name)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if any(needle in line for needle in OUTSIDE):
                offenders.append(f"{name}:{number}: {line.strip()[:100]}")
    assert not offenders, "files refer to a design outside the repository:\n" + "\n".join(offenders)


def repository_paths(markdown: str) -> list[str]:
    """Paths in inline backticks (fenced blocks are diagrams and examples): those with a /,
    and bare file names with a source suffix (README.md, pyproject.toml)."""
    paths = []
    for span in SPAN.findall(FENCE.sub("", markdown)):
        span = span.strip()
        if not PATH.fullmatch(span):
            continue
        if "/" in span or span.endswith(FILE_SUFFIXES):
            paths.append(span)
    return paths


def test_paths_in_the_architecture_map_exist() -> None:
    files = project_files()
    folders = {str(Path(name).parent) for name in files} | {
        str(parent) for name in files for parent in Path(name).parents}
    paths = repository_paths(ARCHITECTURE.read_text(encoding="utf-8"))
    assert len(paths) >= 50, "the map names the code it describes"
    missing = [p for p in paths
               if not (p.rstrip("/") in folders if p.endswith("/") else p in files or p in folders)]
    assert not missing, "docs/architecture.md names paths that do not exist: " + ", ".join(sorted(set(missing)))


def test_the_path_check_sees_what_it_should() -> None:
    sample = "`pbx/sip/edge.py`, `hardware/modem/`, `README.md` and `/api/v1`, `./var`, `sip:x@y`\n" \
             "```\nsim/  not/checked.py\n```\n`X-Pbx-Caller`, `webadmin -> pbx`"
    assert repository_paths(sample) == ["pbx/sip/edge.py", "hardware/modem/", "README.md"]
