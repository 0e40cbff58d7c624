"""The rehearsal's input: what `--input` puts where in the raw bucket, and the default sample's layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_rehearsal.sample import raw_bucket_files, write_sample
from stacks.app_factory import cdk_json_context, named_configuration
from stacks.config import PipelineConfig


def config(name: str = "default") -> PipelineConfig:
    layered = {**cdk_json_context(), **(named_configuration(name) if name != "default" else {})}
    return PipelineConfig.from_context(layered.get)


def test_a_folder_holding_the_raw_prefix_is_the_raw_bucket(tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "sample")
    keys = [key for key, _ in raw_bucket_files(sample, config("full"))]
    assert "ratings/user_ratedmovies-timestamps.dat" in keys
    # Every prefix config/full.json's datasets read has files (so each dataset is written and imported).
    prefixes = {source.prefix for spec in config("full").metadata_datasets for source in spec.sources}
    assert prefixes == {"items/movies/", "items/genres/", "items/moods/", "users/profiles/"}
    assert all(any(key.startswith(prefix) for key in keys) for prefix in prefixes)


@pytest.mark.parametrize("layout", ["file", "folder"])
def test_ratings_alone_go_under_the_raw_prefix(tmp_path: Path, layout: str) -> None:
    folder = tmp_path / "mine"
    (folder / "2026").mkdir(parents=True)
    (folder / "2026" / "week1.tsv").write_text("userID\tmovieID\trating\ttimestamp\n")
    source = folder / "2026" / "week1.tsv" if layout == "file" else folder
    expected = "ratings/week1.tsv" if layout == "file" else "ratings/2026/week1.tsv"
    assert [key for key, _ in raw_bucket_files(source, config())] == [expected]


def test_a_missing_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing"):
        list(raw_bucket_files(tmp_path / "missing", config()))
