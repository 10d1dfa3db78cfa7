"""The hooks' config cache: a hit gives the same config, and change is noticed."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from hdhooks.config.cache import MAX_AGE, load_config_cached
from hdhooks.config.load import load_config
from hdhooks.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "hello-service"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle"
    shutil.copytree(EXAMPLE, path)
    return path


def cached(bundle: Path, cache: Path, environment: str = "demo") -> object:
    return load_config_cached(str(bundle), cache_dir=str(cache), environment=environment)


def test_a_hit_builds_the_same_config_as_reading_the_file(bundle: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = cached(bundle, cache)
    assert len(list(cache.iterdir())) == 1
    assert cached(bundle, cache) == first == load_config(str(bundle), environment="demo")


def test_an_edited_config_is_read_again(bundle: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cached(bundle, cache)
    cfg = bundle / "deploy" / "hdhooks.yml"
    cfg.write_text(cfg.read_text().replace("keep: 5", "keep: 7"))
    assert cached(bundle, cache).releases.keep == 7  # type: ignore[attr-defined]
    cfg.write_text(cfg.read_text().replace("\nreleases:", "\nreleasse:"))
    with pytest.raises(ConfigError):
        cached(bundle, cache)


def test_each_environment_has_its_own_entry(bundle: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert cached(bundle, cache, "demo").service.backend == "process"  # type: ignore[attr-defined]
    assert cached(bundle, cache, "prod").service.backend == "systemd"  # type: ignore[attr-defined]


def test_a_damaged_entry_is_a_miss(bundle: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    good = cached(bundle, cache)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"not marshal data")
    assert cached(bundle, cache) == good


def test_old_entries_are_pruned_when_a_new_one_is_written(bundle: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    stale = cache / "config-0000000000000000.marshal"
    stale.write_bytes(b"")
    old = time.time() - MAX_AGE - 60
    os.utime(stale, (old, old))
    cached(bundle, cache)
    assert not stale.exists()
