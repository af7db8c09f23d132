"""Absurd inventory ranges and YAML alias bombs are refused at once with a clear error
(issue 20 item 7), instead of running for minutes."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import run_cli

BOMB = """all:
  vars:
    a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
    h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
  hosts:
    h1:
"""


def _inventory_list(tmp_path: Path, name: str, text: str) -> tuple[int, str, float]:
    (tmp_path / name).write_text(text)
    started = time.monotonic()
    result = run_cli("inventory", "-i", name, "--list", cwd=tmp_path, timeout=60)
    return result.returncode, result.stderr, time.monotonic() - started


def test_an_absurd_host_range_is_refused_at_once(tmp_path: Path) -> None:
    code, err, took = _inventory_list(tmp_path, "hosts.ini", "[redis]\nh[0:99999999]\n")
    assert code == 1 and took < 10, (code, err, took)
    assert "hosts.ini:2" in err and "expands to 100,000,000 hosts, more than the 100,000" in err
    assert "internal error" not in err
    code, err, _ = _inventory_list(tmp_path, "ok.ini", "[redis]\nh[01:20]\n")
    assert code == 0, err


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    code, err, took = _inventory_list(tmp_path, "bomb.yml", BOMB)
    assert code == 1 and took < 10, (code, err, took)
    assert "bomb.yml" in err and "aliases expand to more than 1,000,000 values" in err
    shared = BOMB.replace("h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]", "h: 1").replace(
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]", "g: 1"
    )
    code, err, _ = _inventory_list(tmp_path, "fine.yml", shared)  # 9**6 = 531,441 values
    assert code == 0, err
