"""flatten: exact outputs for each recipe shape, fast path == json path, streaming edge cases."""

from __future__ import annotations

import csv
import io
import json
import random
from typing import Iterator

import pytest

from lambda_src.postprocess import flatten as F
from lambda_src.postprocess.slow_path import csv_field

from .conftest import read_fixture

FIXTURES = {
    # name: (lines, users_with_recommendations, items_written, errored_lines, malformed_lines, blank_lines)
    "user_personalization": (4, 3, 6, 1, 0, 0),
    "related_items": (4, 3, 5, 0, 0, 0),
    "ranking": (3, 2, 5, 1, 0, 0),
    "unicode_quoting": (4, 4, 14, 0, 0, 0),
    "malformed": (17, 1, 1, 16, 16, 1),
    "empty": (0, 0, 0, 0, 0, 0),
}


class Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        assert isinstance(data, bytes)
        self.parts.append(data)
        return len(data)

    @property
    def value(self) -> bytes:
        return b"".join(self.parts)


def run_lines(data: bytes, fast: bool = True, **kw) -> tuple[bytes, bytes, F.FlattenCounts]:
    rec, err = Sink(), Sink()
    counts = F.flatten_lines(io.BytesIO(data), rec, err, fast=fast, **kw)
    return rec.value, err.value, counts


def run_chunks(data: bytes, size: int, fast: bool = True, **kw) -> tuple[bytes, bytes, F.FlattenCounts]:
    rec, err = Sink(), Sink()
    chunks = (data[i : i + size] for i in range(0, len(data), size))
    counts = F.flatten_chunks(chunks, rec, err, fast=fast, **kw)
    return rec.value, err.value, counts


def counts_tuple(c: F.FlattenCounts) -> tuple[int, ...]:
    return (c.lines, c.users_with_recommendations, c.items_written, c.errored_lines, c.malformed_lines, c.blank_lines)


@pytest.mark.parametrize("name", sorted(FIXTURES))
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "json"])
def test_fixture_exact_outputs(name: str, fast: bool) -> None:
    data = read_fixture(f"{name}.out")
    rec, err, counts = run_lines(data, fast=fast)
    assert rec == read_fixture(f"{name}.csv")
    assert err == read_fixture(f"{name}.jsonl")
    assert counts_tuple(counts) == FIXTURES[name]
    # The same through arbitrary chunk boundaries (1 byte, odd sizes, whole file).
    for size in (1, 7, 64, max(1, len(data))):
        assert run_chunks(data, size, fast=fast)[:2] == (rec, err)


def test_fast_path_is_taken_for_the_common_shapes() -> None:
    _, _, counts = run_lines(read_fixture("user_personalization.out"))
    assert counts.fast_path_lines == 3  # spaced (two score formats) and compact; the error line is not
    _, _, counts = run_lines(read_fixture("related_items.out"))
    assert counts.fast_path_lines == 2  # itemId without scores, spaced and compact
    _, _, counts = run_lines(read_fixture("ranking.out"))
    assert counts.fast_path_lines == 0


def test_histogram_and_counts() -> None:
    _, _, counts = run_lines(read_fixture("related_items.out"))
    assert counts.items_per_user == {2: 2, 0: 1, 1: 1}
    assert counts.as_dict()["items_per_user"] == {"0": 1, "1": 1, "2": 2}


def test_csv_parses_back_to_the_json_values() -> None:
    data = read_fixture("unicode_quoting.out")
    rec, _, _ = run_lines(data)
    rows = list(csv.reader(io.StringIO(rec.decode("utf-8"), newline="")))
    assert rows[0] == ["user_id", "rank", "item_id", "score"]
    expected = []
    for line in data.splitlines():
        obj = json.loads(line)
        for rank, (item, score) in enumerate(zip(obj["output"]["recommendedItems"], obj["output"]["scores"]), 1):
            expected.append([obj["input"]["userId"], str(rank), item, repr(score) if score != 0.05 else "0.05"])
    assert rows[1:] == expected


def test_quoting_matches_the_csv_module() -> None:
    fields = [b"plain", b"a,b", b'say "hi"', b"two\nlines", b"", b"caf\xc3\xa9", b" lead", b"semi;"]
    for value in fields:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([value.decode(), "1"])
        assert csv_field(value) + b",1\n" == buf.getvalue().encode()
    # CR is quoted too (csv.writer only quotes it when it is in the line terminator).
    assert csv_field(b"a\rb") == b'"a\rb"'


def test_oversize_line_is_malformed_and_skipped_in_constant_memory() -> None:
    good = b'{"input": {"userId": "u"}, "output": {"recommendedItems": ["i"], "scores": [0.5]}, "error": null}\n'
    huge = b'{"input": {"userId": "' + b"x" * 5000 + b'"}}\n'
    data = good + huge + good
    for size in (100, 1000, 100_000):
        rec, err, counts = run_chunks(data, size, max_line_bytes=1000)
        assert rec == b"user_id,rank,item_id,score\nu,1,i,0.5\nu,1,i,0.5\n"
        (record,) = [json.loads(x) for x in err.splitlines()]
        assert record["line"] == 2 and record["kind"] == "malformed"
        assert record["error"] == "line longer than 1000 bytes (cut)"
        assert len(record["raw"]) == 1001
        assert counts.malformed_lines == 1 and counts.lines == 3


def test_last_line_without_newline_and_crlf() -> None:
    line = b'{"input": {"userId": "u"}, "output": {"recommendedItems": ["i"], "scores": [0.5]}, "error": null}'
    expected = b"user_id,rank,item_id,score\nu,1,i,0.5\nu,1,i,0.5\n"
    assert run_chunks(line + b"\n" + line, 10)[0] == expected
    # CRLF line ends: valid JSON with trailing whitespace, handled by the json path.
    rec, err, counts = run_chunks(line + b"\r\n" + line + b"\r\n", 50)
    assert rec == expected and err == b"" and counts.fast_path_lines == 0


def test_errors_output_line_numbers_count_blank_lines() -> None:
    err_line = b'{"input": {"userId": "u"}, "error": "x"}\n'
    _, err, counts = run_lines(b"\n\n" + err_line + b"\n" + err_line)
    assert [json.loads(x)["line"] for x in err.splitlines()] == [3, 5]
    assert counts.blank_lines == 3 and counts.lines == 2 and counts.errored_lines == 2


# ----------------------------------------------------------------------------------------------
# Fast path == json path on varied generated input


ID_POOL = [
    "u1", "item-42", "0", "", "a b", "semi;colon", "per%cent", "tab\there", "new\nline", "cr\rx",
    "comma,inside", 'quote"inside', "back\\slash", "caf\u00e9", "\u65e5\u672c\u8a9e", "emoji \U0001F600",
    "nul\u0000x", "\u2028sep", "del\u007fx", "\\u0041", "\ud800",
]
SCORES_OK = ["0.5", "0.0123", "0.9999999", "1", "0", "-0", "1.5e-05", "2E+3", "-0.25", "0.1e1", "10.5"]
SCORES_BAD = ["01", ".5", "1.", "+1", "1e", "0.5.5", "NaN", "Infinity", "0x1", '"0.5"', "null", "true", "1_0", "0.", "-"]


def _json_str(value: str, rnd: random.Random) -> str:
    if rnd.random() < 0.5:
        return json.dumps(value, ensure_ascii=rnd.random() < 0.5)
    # Raw (possibly invalid JSON: raw control characters or quotes) most of the time for plain ids.
    return '"' + value + '"'


def _line(rnd: random.Random) -> bytes:
    sp = rnd.choice([" ", "", " ", "  "])
    sep, colon = "," + sp, ":" + sp
    n = rnd.choice([0, 1, 1, 2, 3, 25, 25, 25])
    plain = rnd.random() < 0.6
    ids = [f"i{rnd.randrange(10**6)}" if plain or rnd.random() < 0.7 else rnd.choice(ID_POOL) for _ in range(n)]
    key = f"user-{rnd.randrange(10**6)}" if plain else rnd.choice(ID_POOL)
    key_name = rnd.choice(["userId", "userId", "itemId"])
    inp = "{" + f'"{key_name}"{colon}{_json_str(key, rnd)}'
    if rnd.random() < 0.1:
        inp += f'{sep}"itemList"{colon}[' + sep.join(_json_str(i, rnd) for i in ids) + "]"
    inp += "}"
    if rnd.random() < 0.05:
        inp = rnd.choice(["null", "[]", '"x"', "{}"])
    items = "[" + sep.join(_json_str(i, rnd) for i in ids) + "]"
    kind = rnd.random()
    if kind < 0.6:
        scores = [rnd.choice(["0." + str(rnd.randrange(1, 10**7)).zfill(7)] * 4 + SCORES_OK) for _ in range(n)]
        if rnd.random() < 0.05 and n:
            scores[rnd.randrange(n)] = rnd.choice(SCORES_BAD)
        if rnd.random() < 0.03:
            scores = scores[:-1]
        out = "{" + f'"recommendedItems"{colon}{items}{sep}"scores"{colon}[' + sep.join(scores) + "]}"
    elif kind < 0.85:
        out = "{" + f'"recommendedItems"{colon}{items}' + "}"
    elif kind < 0.9:
        out = "{" + f'"recommendedItems"{colon}{items}{sep}"scores"{colon}null' + "}"
    else:
        out = rnd.choice(["null", "{}", "[]", '{"recommendedItems": null}'])
    error = "null" if rnd.random() < 0.9 else rnd.choice(['"Input user not found"', '""', "0", '{"code": 1}'])
    parts = [f'"input"{colon}{inp}', f'"output"{colon}{out}', f'"error"{colon}{error}']
    if rnd.random() < 0.05:
        rnd.shuffle(parts)
    text = "{" + sep.join(parts) + "}"
    if rnd.random() < 0.02:
        text = text[: rnd.randrange(len(text))]  # truncated
    data = text.encode("utf-8", "surrogatepass")
    if rnd.random() < 0.01:
        pos = rnd.randrange(len(data) + 1)
        data = data[:pos] + rnd.choice([b"\xff", b"\xc3", b"\x80"]) + data[pos:]
    if rnd.random() < 0.01:
        data = rnd.choice([b"", b"  ", b"\t", b"garbage", b"{}", b"[]", b"null"])
    return data + rnd.choice([b"\n"] * 20 + [b"\r\n"])


def _generated(seed: int, lines: int) -> bytes:
    rnd = random.Random(seed)
    return b"".join(_line(rnd) for _ in range(lines))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_output_is_identical_to_json_path(seed: int) -> None:
    data = _generated(seed, 3000)
    fast_rec, fast_err, fast_counts = run_chunks(data, 64 * 1024)
    slow_rec, slow_err, slow_counts = run_chunks(data, 64 * 1024, fast=False)
    assert fast_rec == slow_rec
    assert fast_err == slow_err
    fast_dict, slow_dict = fast_counts.as_dict(), slow_counts.as_dict()
    assert fast_dict.pop("fast_path_lines") > 500 and slow_dict.pop("fast_path_lines") == 0
    assert fast_dict == slow_dict
    # Sanity of the generator: it covers errors, malformed lines, quoting and both paths.
    assert slow_counts.malformed_lines > 50 and slow_counts.errored_lines > slow_counts.malformed_lines
    assert b'"' in slow_rec and slow_counts.items_written > 10_000


def test_tricky_lines_one_by_one() -> None:
    """Lines the fast path must refuse (or get exactly right), each alone, so a bulk-check
    fallback of a whole block cannot hide a per-line difference."""
    prefix = b'{"input": {"userId": "'
    tail = b'"}, "output": {"recommendedItems": ["a", "b"], "scores": [0.5, 0.25]}, "error": null}\n'
    keys = [b"k", b"k,1", b'k"1', b"k\\u00e9", b"k\\n", b"k\x01", b"k\x00", b"\xff", b"\xc3\xa9", b"k\t",
            b"%s", b"k\r", b"\xed\xa0\x80"]
    for key in keys:
        line = prefix + key + tail
        assert run_lines(line)[:2] == run_lines(line, fast=False)[:2], key
    bodies = [b"0.5, 0.25", b"0.5,0.25", b"0.5,  0.25", b"0., 0.25", b"0.5, .25", b"00.5, 0.25", b"0.5, 0.25e",
              b"0.5, 1e-7", b"0.5, -0.0", b"0.5", b"0.5, 0.25, 0.1", b"", b"0.5, 0.2 5", b"0.5 , 0.25", b"0.5, 0.25 "]
    for body in bodies:
        line = prefix + b"k" + tail.replace(b"0.5, 0.25", body)
        assert run_lines(line)[:2] == run_lines(line, fast=False)[:2], body


def test_generated_input_is_independent_of_chunk_boundaries() -> None:
    data = _generated(7, 500)
    reference = run_chunks(data, len(data))[:2]
    rnd = random.Random(0)
    for _ in range(5):
        size = rnd.randrange(1, 4000)
        assert run_chunks(data, size)[:2] == reference
    assert run_lines(data)[:2] == reference


def iter_generated_chunks(lines: int, chunk_lines: int = 1000) -> Iterator[bytes]:
    line = (
        b'{"input": {"userId": "user-1234567"}, "output": {"recommendedItems": ['
        + b", ".join(b'"%d"' % (100000 + i) for i in range(25))
        + b'], "scores": ['
        + b", ".join(b"0.00%05d" % (99999 - i) for i in range(25))
        + b"]}, \"error\": null}\n"
    )
    block = line * chunk_lines
    for _ in range(lines // chunk_lines):
        yield block


@pytest.mark.parametrize(
    "line",
    [
        b'{"input": {"userId": "u1"}, "output": {"recommendedItems": ["]}, "error": null}\n',
        b'{"input":{"userId":"u1"},"output":{"recommendedItems":["]},"error":null}\n',
    ],
)
def test_a_cut_off_item_list_is_malformed_on_both_paths(line: bytes) -> None:
    # The item-list opener and the no-scores ending share a quote; the fast path must not read
    # the overlap as one empty item.
    outputs = []
    for fast in (True, False):
        rows, errors = io.BytesIO(), io.BytesIO()
        counts = F.flatten_chunks(iter([line]), rows, errors, fast=fast)
        outputs.append((rows.getvalue(), counts.malformed_lines))
    assert outputs[0] == outputs[1] == (b"user_id,rank,item_id,score\n", 1)
