"""The filter-expression grammar (pipeline_contracts/filter_expressions.py): generated valid expressions are accepted,
and each kind of invalid one is refused at the position where it goes wrong."""

from __future__ import annotations

import random

import pytest

from pipeline_contracts.filter_expressions import (
    MAX_EXPRESSION_LENGTH,
    MAX_FIELDS_PER_DATASET_GROUP,
    MAX_FIELDS_PER_FILTER,
    FilterExpressionError,
    fields_beyond_group_limit,
    filter_value,
    parse_filter,
)

NUMERIC = [f"N{i}" for i in range(12)]
CATEGORICAL = [f"C{i}" for i in range(12)]
CATALOG = {
    "Interactions": {"EVENT_TYPE": "string"},
    "Items": {**dict.fromkeys(NUMERIC, "numeric"), **dict.fromkeys(CATEGORICAL, "categorical"), "DESC": "textual"},
    "Users": {"AGE": "numeric", "TIER": "categorical"},
}


def _condition(rng: random.Random, dataset: str) -> str:
    if dataset == "Interactions":
        values = ", ".join(f'"{rng.choice(["click", "view", "buy"])}"' for _ in range(rng.randint(1, 3)))
        operator = rng.choice(["IN", "NOT IN"])
        operand = values if operator == "NOT IN" else rng.choice([values, "$TYPES"])  # no placeholder after NOT IN
        return f"Interactions.EVENT_TYPE {operator} ({operand})"
    if dataset == "Users":
        return 'Users.TIER IN ("gold")' if rng.random() < 0.5 else f"Users.AGE {rng.choice(['<', '>=', '='])} 30"
    if rng.random() < 0.5:
        field = rng.choice(NUMERIC[:4])
        operand = rng.choice(["5", "2.5", "$LIMIT", f"CurrentItem.{field}"])
        return f"Items.{field} {rng.choice(['<', '<=', '>', '>=', '='])} {operand}"
    field = rng.choice(CATEGORICAL[:4])
    return f'Items.{field} {rng.choice(["IN", "NOT IN"])} ("a", "b c")'


def _expression(rng: random.Random, target: str) -> str:
    dataset = rng.choice(["Items", "Interactions"] if target == "ItemID" else ["Users", "Interactions"])
    conditions = [_condition(rng, dataset) for _ in range(rng.randint(1, 3))]
    joined = f" {rng.choice(['AND', 'OR'])} ".join(conditions)
    if_clause = ' IF CurrentUser.TIER IN ("gold")' if target == "ItemID" and rng.random() < 0.3 else ""
    return f"{rng.choice(['EXCLUDE', 'INCLUDE'])} {target} WHERE {joined}{if_clause}"


@pytest.mark.parametrize("seed", range(200))
def test_generated_valid_expressions_are_accepted(seed: int) -> None:
    rng = random.Random(seed)
    target = rng.choice(["ItemID", "UserID"])
    text = " | ".join(_expression(rng, target) for _ in range(rng.randint(1, 3)))
    parsed = parse_filter(text, CATALOG)
    assert parsed.target == target
    assert all("$" + p in text for p in parsed.placeholders)
    assert ("Interactions." in text) == parsed.uses_interactions


VALID = 'EXCLUDE ItemID WHERE Items.C0 IN ("a")'
INVALID = [
    # (expression, position, part of the problem)
    ('EXCLUDES ItemID WHERE Items.C0 IN ("a")', 1, "expected EXCLUDE or INCLUDE"),
    ('EXCLUDE ActionID WHERE Items.C0 IN ("a")', 9, "expected ItemID or UserID"),
    ('EXCLUDE ItemID Items.C0 IN ("a")', 16, "expected WHERE"),
    ('EXCLUDE ItemID WHERE Items.NOPE IN ("a")', 22, "Items has no field 'NOPE'"),
    ('EXCLUDE ItemID WHERE Users.TIER IN ("a")', 22, "expected a field of Items or Interactions"),
    ('EXCLUDE UserID WHERE Items.C0 IN ("a")', 22, "expected a field of Users or Interactions"),
    ('EXCLUDE ItemID WHERE Interactions.ITEM_ID IN ("a")', 22, "EVENT_TYPE only"),
    ('EXCLUDE ItemID WHERE Items.DESC IN ("a")', 22, "textual field"),
    ('EXCLUDE ItemID WHERE Items.C0 NOT IN ($GENRES)', 39, "no placeholder there"),
    ('EXCLUDE ItemID WHERE Items.C0 > 3', 31, "a numeric field before >"),
    ('EXCLUDE ItemID WHERE Items.C0 IN ("a") AND Interactions.EVENT_TYPE IN ("x")', 44, "stay on the dataset"),
    ('EXCLUDE ItemID WHERE Items.C0 IN ("a") | EXCLUDE UserID WHERE Users.TIER IN ("x")', 50, "filter the same"),
    ('EXCLUDE ItemID WHERE Items.C0 IN ("a"', 38, "expected )"),
    ('EXCLUDE ItemID WHERE Items.C0 IN ()', 35, 'expected a "quoted" value or a number'),
    ('EXCLUDE ItemID WHERE Items.C0 IN ("a") ;', 40, "unexpected character ';'"),
    ('INCLUDE UserID WHERE Users.TIER IN ("a") IF CurrentUser.AGE > 3', 42, "IF CurrentUser conditions only"),
    ('EXCLUDE ItemID WHERE Items.C0 IN ("a") extra', 40, "expected '|', AND, OR, IF or the end"),
    ("", 1, "an expression such as"),
]


@pytest.mark.parametrize(("text", "position", "problem"), INVALID, ids=[p for _, _, p in INVALID])
def test_each_kind_of_invalid_expression_is_refused_at_its_position(text: str, position: int, problem: str) -> None:
    with pytest.raises(FilterExpressionError) as raised:
        parse_filter(text, CATALOG)
    assert raised.value.position == position, str(raised.value)
    assert problem in str(raised.value)
    assert str(raised.value).startswith(f"at character {position}: ")


def test_interactions_and_items_are_chained_not_mixed() -> None:
    parsed = parse_filter(VALID + ' | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("buy")', CATALOG)
    assert parsed.fields == {"Items.C0", "Interactions.EVENT_TYPE"}


def test_fields_per_filter_at_the_limit_and_one_past() -> None:
    fields = [f"Items.C{i}" for i in range(CATEGORICAL.index("C0"), MAX_FIELDS_PER_FILTER + 1)]

    def expression(count: int) -> str:
        return "EXCLUDE ItemID WHERE " + " AND ".join(f'{f} IN ("a")' for f in fields[:count])

    assert len(parse_filter(expression(MAX_FIELDS_PER_FILTER), CATALOG).fields) == MAX_FIELDS_PER_FILTER
    text = expression(MAX_FIELDS_PER_FILTER + 1)
    with pytest.raises(FilterExpressionError, match=f"at most {MAX_FIELDS_PER_FILTER} distinct fields") as raised:
        parse_filter(text, CATALOG)
    assert raised.value.position == text.index(fields[MAX_FIELDS_PER_FILTER]) + 1


def test_expression_length_at_the_limit_and_one_past() -> None:
    values = ", ".join(f'"v{i}"' for i in range(MAX_EXPRESSION_LENGTH // 4))
    long = f"EXCLUDE ItemID WHERE Items.C0 IN ({values})"
    at_limit = long[: long.rindex(",", 0, MAX_EXPRESSION_LENGTH - 1)] + ")"
    at_limit += " " * (MAX_EXPRESSION_LENGTH - len(at_limit))
    assert len(at_limit) == MAX_EXPRESSION_LENGTH
    parse_filter(at_limit, CATALOG)
    with pytest.raises(FilterExpressionError, match=f"at most {MAX_EXPRESSION_LENGTH} characters"):
        parse_filter(at_limit + " ", CATALOG)


def test_fields_per_dataset_group_at_the_limit_and_one_past() -> None:
    names = [f"Items.{f}" for f in (NUMERIC + CATEGORICAL)][: MAX_FIELDS_PER_DATASET_GROUP + 1]
    parsed = [parse_filter(f"INCLUDE ItemID WHERE {name} IN (\"1\")", CATALOG) for name in names]
    assert fields_beyond_group_limit(parsed[:MAX_FIELDS_PER_DATASET_GROUP]) == ()
    assert len(fields_beyond_group_limit(parsed)) == 1


def test_filter_values_are_quoted_strings_and_plain_numbers() -> None:
    assert filter_value(["horror", "comedy"]) == '"horror","comedy"'
    assert filter_value([5, 2.5]) == "5,2.5"
