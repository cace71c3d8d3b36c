"""Shared fixtures: a real SQLite file per test, configs written as TOML, the repo's paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from relaywatch.config import Config, parse_config
from relaywatch.store import Store

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def make_config(tmp_path: Path, extra: str = "") -> Config:
    """A config with its database in tmp_path, no article fetching, no per-host delay."""
    text = f'[database]\npath = "{tmp_path / "relaywatch.db"}"\n' \
           "[defaults]\nsummary_words = 0\n[fetch]\nper_host_delay = 0\n" + extra
    return parse_config(text, "test.toml")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "relaywatch.db")
    yield s
    s.close()


def shared(*parts: str) -> Path:
    """A corpus under ../shared/data beside the checkout; skip the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (third-party test corpora live in ../shared/data beside the checkout)")
    return path
