"""Output kinds: each kind's exact CSV, fast path == json path on generated lines of that kind,
segment lines far longer than a chunk, and today's output left as it was."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from lambda_src.postprocess import flatten as F
from lambda_src.postprocess.fast_path import ENGINES
from lambda_src.postprocess.kinds import DEFAULT_MAX_LINE_BYTES

from .conftest import read_fixture
from .test_flatten import FIXTURES, ID_POOL, SCORES_BAD, SCORES_OK, _json_str, counts_tuple, run_chunks, run_lines

KINDS = sorted(F.OUTPUT_KINDS)
NEW_KIND_FIXTURES = {
    # kind: (lines, keys_with_results, rows, errored_lines, malformed_lines, blank_lines, fast_path_lines)
    "related_items": (6, 4, 6, 2, 1, 0, 3),
    "item_affinity": (8, 5, 11, 2, 1, 1, 3),
    "item_attribute_affinity": (7, 5, 12, 2, 1, 0, 5),
}
QUERIES = [
    'ITEMS.genres = "Comedy"',
    'ITEMS.genres = "Comedy" AND ITEMS.genres = "Action"',
    "ITEMS.price > 10",
    'ITEMS.title = "a, b"',
    'ITEMS.note = "back\\\\slash"',
    "caf\u00e9 \u65e5\u672c",
    "",
]


@pytest.mark.parametrize("kind", sorted(NEW_KIND_FIXTURES))
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "json"])
def test_each_kind_fixture_exact_outputs(kind: str, fast: bool) -> None:
    data = read_fixture(f"kind_{kind}.out")
    rec, err, counts = run_lines(data, fast=fast, kind=kind)
    assert rec == read_fixture(f"kind_{kind}.csv")
    assert err == read_fixture(f"kind_{kind}.jsonl")
    expected = NEW_KIND_FIXTURES[kind]
    assert counts_tuple(counts) == expected[:6]
    assert counts.fast_path_lines == (expected[6] if fast else 0)
    for size in (1, 7, 64, len(data)):
        assert run_chunks(data, size, fast=fast, kind=kind)[:2] == (rec, err)


@pytest.mark.parametrize("kind", KINDS)
def test_header_and_rows_read_back_with_the_csv_module(kind: str) -> None:
    spec = F.OUTPUT_KINDS[kind]
    name = f"kind_{kind}" if kind in NEW_KIND_FIXTURES else "user_personalization"
    data = read_fixture(f"{name}.out")
    rec, _, _ = run_lines(data, kind=kind)
    rows = list(csv.reader(io.StringIO(rec.decode("utf-8"), newline="")))
    assert ",".join(rows[0]).encode() + b"\n" == spec.header
    expected = []
    for line in data.splitlines():
        obj = json.loads(line) if line.strip() else {}
        key = (obj.get("input") or {}) if spec.key_in_input else obj
        key = next((key[f] for f in spec.key_fields if f in key), None)
        out = obj.get("output") or {}
        values = out.get(spec.list_field)
        if obj.get("error") is not None or not isinstance(key, str) or not isinstance(values, list):
            continue
        scores = out.get("scores") if spec.scored else None
        for rank, value in enumerate(values, 1):
            row = [key, str(rank), value]
            if spec.scored:
                row.append("" if scores is None else json.dumps(scores[rank - 1]))
            expected.append(row)
    assert expected and rows[1:] == expected


def test_user_recommendations_is_the_default_and_recipes_name_kinds() -> None:
    for name in sorted(FIXTURES):
        data = read_fixture(f"{name}.out")
        default = run_lines(data)[:2]
        assert run_lines(data, kind="user_recommendations")[:2] == default
        assert run_lines(data, kind="aws-user-personalization-v2")[:2] == default
        assert default == (read_fixture(f"{name}.csv"), read_fixture(f"{name}.jsonl"))
    assert {recipe: F.output_kind(recipe).name for recipe in F.RECIPE_KINDS} == F.RECIPE_KINDS
    assert F.output_kind(None) is F.OUTPUT_KINDS["user_recommendations"]
    with pytest.raises(ValueError, match="unknown output kind 'aws-trending-now'"):
        F.output_kind("aws-trending-now")


def test_related_items_kind_refuses_user_input_that_user_recommendations_accepts() -> None:
    line = b'{"input": {"userId": "u1"}, "output": {"recommendedItems": ["i1"]}, "error": null}\n'
    assert run_lines(line)[0].endswith(b"u1,1,i1,\n")
    for fast in (True, False):
        rec, err, counts = run_lines(line, fast=fast, kind="related_items")
        assert rec == F.OUTPUT_KINDS["related_items"].header and counts.malformed_lines == 1
        assert json.loads(err)["error"] == "input has no string itemId"


# ----------------------------------------------------------------------------------------------
# Fast path == json path on generated lines of every kind


def _kind_line(rnd: random.Random, spec: F.OutputKind) -> bytes:
    sp = rnd.choice([" ", "", " ", "  "])
    sep, colon = "," + sp, ":" + sp
    n = rnd.choice([0, 1, 2, 3, 25, 25, 25, 200])
    plain = rnd.random() < 0.6
    ids = [f"{rnd.randrange(10**6)}" if plain or rnd.random() < 0.7 else rnd.choice(ID_POOL) for _ in range(n)]
    if spec.key_in_input:
        key = f"k-{rnd.randrange(10**6)}" if plain else rnd.choice(ID_POOL)
        field = rnd.choice(spec.key_fields * 12 + ("userId", "itemId", "itemAttributes"))
        head = f'"input"{colon}' + "{" + f'"{field}"{colon}{_json_str(key, rnd)}' + "}"
        if rnd.random() < 0.05:
            head = f'"input"{colon}' + rnd.choice(["null", "[]", '"x"', "{}"])
    else:
        query = rnd.choice(QUERIES + ID_POOL[:8])
        text = json.dumps(query, ensure_ascii=rnd.random() < 0.3) if rnd.random() < 0.9 else '"' + query + '"'
        head = f'"{rnd.choice(["itemAttributes"] * 6 + ["input"])}"{colon}{text}'
    list_field = spec.list_field if rnd.random() < 0.95 else rnd.choice(["recommendedItems", "recommendedUsers"])
    values = "[" + sep.join(_json_str(i, rnd) for i in ids) + "]"
    shape = rnd.random()
    if shape < (0.6 if spec.scored else 0.05):
        scores = [rnd.choice(["0." + str(rnd.randrange(1, 10**7)).zfill(7)] * 4 + SCORES_OK) for _ in range(n)]
        if rnd.random() < 0.05 and n:
            scores[rnd.randrange(n)] = rnd.choice(SCORES_BAD)
        out = "{" + f'"{list_field}"{colon}{values}{sep}"scores"{colon}[' + sep.join(scores) + "]}"
    elif shape < 0.9:
        out = "{" + f'"{list_field}"{colon}{values}' + "}"
    else:
        out = rnd.choice(["null", "{}", "[]", '{"recommendedUsers": null}', '{"recommendedItems": [1]}'])
    parts = [head, f'"output"{colon}{out}']
    if spec.error_field or rnd.random() < 0.1:
        error = "null" if rnd.random() < 0.9 else rnd.choice(['"Input not found"', '""', "0", '{"code": 1}'])
        parts.append(f'"error"{colon}{error}')
    if rnd.random() < 0.05:
        rnd.shuffle(parts)
    text = "{" + sep.join(parts) + "}"
    if rnd.random() < 0.02:
        text = text[: rnd.randrange(len(text))]
    data = text.encode("utf-8", "surrogatepass")
    if rnd.random() < 0.01:
        pos = rnd.randrange(len(data) + 1)
        data = data[:pos] + rnd.choice([b"\xff", b"\xc3", b"\x80"]) + data[pos:]
    if rnd.random() < 0.01:
        data = rnd.choice([b"", b"  ", b"garbage", b"{}", b"null"])
    return data + rnd.choice([b"\n"] * 20 + [b"\r\n"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [11, 12])
def test_fast_path_output_is_identical_to_json_path_for_every_kind(kind: str, seed: int) -> None:
    rnd = random.Random(seed)
    spec = F.OUTPUT_KINDS[kind]
    data = b"".join(_kind_line(rnd, spec) for _ in range(2000))
    fast = run_chunks(data, 64 * 1024, kind=kind)
    slow = run_chunks(data, 64 * 1024, fast=False, kind=kind)
    assert fast[:2] == slow[:2]
    fast_dict, slow_dict = fast[2].as_dict(), slow[2].as_dict()
    assert fast_dict.pop("fast_path_lines") > 400 and slow_dict.pop("fast_path_lines") == 0
    assert fast_dict == slow_dict
    # The generator reaches errors, malformed lines and quoting for this kind.
    assert slow[2].malformed_lines > 30 and slow[2].errored_lines > slow[2].malformed_lines
    assert b'"' in slow[0] and slow[2].items_written > 10_000


def test_tricky_query_keys_one_by_one() -> None:
    """Query texts the fast path must decode exactly as json does, or leave to it."""
    tail = b'", "output": {"recommendedUsers": ["1", "2"]}}\n'
    raws = [b'ITEMS.genres = \\"Comedy\\"', b'a"b', b"a\\", b"a\\\\", b"a\\u00e9", b"a\\ud800", b"\\ud83d\\ude00",
            b"a\x01b", b"a\tb", b"caf\xc3\xa9", b"\xff", b"a,b", b"a\\nb", b"a\\rb", b"", b'\\"', b"a\\x"]
    for raw in raws:
        line = b'{"itemAttributes": "' + raw + tail
        kind = "item_attribute_affinity"
        assert run_lines(line, kind=kind)[:2] == run_lines(line, fast=False, kind=kind)[:2], raw


def test_a_segment_line_far_longer_than_a_chunk() -> None:
    """A segment with 300,000 users (~2.6 MB) above the inference line limit, cut into 64 KiB
    chunks: one CSV row per user, both paths alike, and its row template is not kept."""
    users = [str(10_000_000 + i) for i in range(300_000)]
    line = json.dumps({"input": {"itemId": "42"}, "output": {"recommendedUsers": users}}).encode() + b"\n"
    assert len(line) > 2 * 1024 * 1024
    data = line + b'{"input": {"itemId": "43"}, "output": {"recommendedUsers": ["1"]}}\n'
    fast = run_chunks(data, 64 * 1024, kind="item_affinity")
    assert fast[:2] == run_chunks(data, 64 * 1024, fast=False, kind="item_affinity")[:2]
    rows = fast[0].split(b"\n")
    assert rows[1] == b"42,1,10000000" and rows[300_000] == b"42,300000,10299999" and rows[300_001] == b"43,1,1"
    assert fast[2].fast_path_lines == 2 and fast[2].items_written == 300_001
    assert 300_000 not in ENGINES["item_affinity"].templates_nosc
    # With the user-recommendations limit the same line is malformed (cut), as before.
    cut = run_chunks(data, 64 * 1024, kind="item_affinity", max_line_bytes=DEFAULT_MAX_LINE_BYTES // 2)
    assert cut[2].malformed_lines == 1


def test_kind_folders_end_with_a_slash_and_user_recommendations_keep_the_run_layouts() -> None:
    from pipeline_contracts import run_layout

    assert F.OUTPUT_KINDS["user_recommendations"].folder == run_layout.RECOMMENDATIONS
    folders = {kind.folder for kind in F.OUTPUT_KINDS.values()}
    assert folders == {"recommendations/", "related-items/", "segments/"}
    assert not folders & {run_layout.ERRORS, run_layout.BATCH_OUTPUT}
