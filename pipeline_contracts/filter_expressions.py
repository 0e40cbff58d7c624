"""Amazon Personalize filter expressions: a parser of the documented grammar, run at synth on every configured filter.

Grammar (Personalize developer guide, "Filter expression structure and elements", "Guidelines and requirements"):

    filter     := expression ('|' expression)*                       chained expressions apply one after the other
    expression := (EXCLUDE | INCLUDE) (ItemID | UserID) WHERE condition ((AND | OR) condition)*
                  [IF CurrentUser.FIELD comparison]
    condition  := Dataset.FIELD [NOT] IN (values | $PARAM | CurrentItem.FIELD)
                | Dataset.FIELD (= | < | <= | > | >=) (number | $PARAM | CurrentItem.FIELD)
    values     := value (',' value)*          value := "quoted string" | number

Rules enforced (each refusal names the character position, 1-based):
* ItemID expressions filter on Items or Interactions (CurrentItem on the right, CurrentUser in IF); UserID
  expressions (user segments) on Users or Interactions.
* Interactions data can be filtered by EVENT_TYPE only; the conditions of one expression stay on the dataset of its
  first condition ("Conditions chained together using AND or OR can only affect fields of the dataset used in the
  first condition"), so Interactions and Items never mix in one expression: chain them with `|`.
* A placeholder cannot follow NOT IN; a numeric comparison needs a numeric field; textual fields cannot be filtered.
* At most `MAX_FIELDS_PER_FILTER` distinct fields in a filter, `MAX_EXPRESSION_LENGTH` characters (CreateFilter's
  filterExpression), and across a dataset group's filters `MAX_FIELDS_PER_DATASET_GROUP` distinct fields.

Standard library only (see the package docstring): the CDK app validates with it, the CLI and tests read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

MAX_EXPRESSION_LENGTH = 2500  # CreateFilter filterExpression (botocore model: FilterExpression, max 2500)
MAX_FIELDS_PER_FILTER = 10
MAX_FIELDS_PER_DATASET_GROUP = 20
MAX_FILTERS_PER_DATASET_GROUP = 30  # Personalize service quotas: filters per dataset group
EVENT_TYPE = "EVENT_TYPE"
INTERACTIONS, ITEMS, USERS = "Interactions", "Items", "Users"
CURRENT_ITEM, CURRENT_USER = "CurrentItem", "CurrentUser"
COMPARISONS = ("<=", ">=", "=", "<", ">")

FieldKind = Literal["categorical", "string", "numeric", "textual"]
Target = Literal["ItemID", "UserID"]
# Datasets an expression may filter on, by what it filters (CurrentItem / CurrentUser are read on other sides).
DATASETS_OF_TARGET: Mapping[str, tuple[str, ...]] = {"ItemID": (ITEMS, INTERACTIONS), "UserID": (USERS, INTERACTIONS)}

_TOKEN = re.compile(
    r"""(?P<space>\s+)|(?P<string>"(?:[^"\\]|\\.)*")|(?P<placeholder>\$[A-Za-z_][A-Za-z0-9_]*)"""
    r"""|(?P<number>-?\d+(?:\.\d+)?)|(?P<field>[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*)"""
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<symbol><=|>=|[=<>(),|])"""
)
PLACEHOLDER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class FilterExpressionError(ValueError):
    """An expression Personalize would refuse: `position` is the 1-based character where it goes wrong."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"at character {position}: {problem}")
        self.position, self.problem = position, problem


@dataclass(frozen=True)
class ParsedFilter:
    """What the stacks need to know of a valid filter."""

    target: Target
    """ItemID (item recommendations, related items) or UserID (user segments); every chained expression agrees."""
    fields: frozenset[str]
    """Distinct `Dataset.FIELD`s it reads (CurrentItem / CurrentUser fields included)."""
    placeholders: tuple[str, ...]
    """`$PARAM` names without the `$`, in order of first use: each batch input line must carry their values."""

    @property
    def uses_interactions(self) -> bool:
        return any(field.startswith(INTERACTIONS + ".") for field in self.fields)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int  # 1-based


def _tokens(expression: str) -> list[_Token]:
    tokens, at = [], 0
    while at < len(expression):
        match = _TOKEN.match(expression, at)
        if match is None:
            raise FilterExpressionError(at + 1, f"unexpected character {expression[at]!r}")
        if match.lastgroup != "space":
            tokens.append(_Token(str(match.lastgroup), match.group(), at + 1))
        at = match.end()
    tokens.append(_Token("end", "", len(expression) + 1))
    return tokens


class _Parser:
    def __init__(self, expression: str, catalog: Mapping[str, Mapping[str, FieldKind]]) -> None:
        self.tokens, self.at, self.catalog = _tokens(expression), 0, catalog
        self.fields: dict[str, None] = {}
        self.placeholders: dict[str, None] = {}

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def fail(self, problem: str, token: _Token | None = None) -> FilterExpressionError:
        token = token or self.token
        found = f"'{token.text}'" if token.text else "the end"
        return FilterExpressionError(token.position, f"{problem}, found {found}")

    def take(self, *words: str) -> _Token:
        token = self.token
        if token.text not in words:
            raise self.fail("expected " + " or ".join(words))
        self.at += 1
        return token

    def parse(self) -> ParsedFilter:
        targets = [self.expression()]
        while self.token.text == "|":
            self.at += 1
            target = self.expression()
            if target.text != targets[0].text:
                raise FilterExpressionError(
                    target.position,
                    f"chained expressions filter the same thing ({targets[0].text}), found '{target.text}'",
                )
            targets.append(target)
        if self.token.kind != "end":
            raise self.fail("expected '|', AND, OR, IF or the end of the filter")
        return ParsedFilter(targets[0].text, frozenset(self.fields), tuple(self.placeholders))  # type: ignore[arg-type]

    def expression(self) -> _Token:
        self.take("EXCLUDE", "INCLUDE")
        target = self.take("ItemID", "UserID")
        self.take("WHERE")
        dataset = self.condition(target.text, None)
        while self.token.text in ("AND", "OR"):
            self.at += 1
            self.condition(target.text, dataset)
        if self.token.text == "IF":
            if target.text != "ItemID":
                raise self.fail("IF CurrentUser conditions only in ItemID expressions")
            self.at += 1
            self.current_user_condition()
            while self.token.text == "AND":
                self.at += 1
                self.current_user_condition()
        return target

    def condition(self, target: str, dataset: str | None) -> str:
        """One `Dataset.FIELD operator operand`; `dataset` is the one of the expression's first condition."""
        token = self.token
        name, kind = self.field(token, DATASETS_OF_TARGET[target])
        this_dataset = name.split(".")[0]
        if dataset is not None and this_dataset != dataset:
            raise FilterExpressionError(
                token.position,
                f"conditions joined by AND/OR stay on the dataset of the first one ({dataset}), found '{name}'; "
                "chain another expression with '|' to filter on " + this_dataset,
            )
        self.operation(kind)
        return this_dataset

    def current_user_condition(self) -> None:
        self.operation(self.field(self.token, (CURRENT_USER,))[1], current_item=False)

    def field(self, token: _Token, datasets: tuple[str, ...]) -> tuple[str, FieldKind]:
        if token.kind != "field":
            raise self.fail("expected a Dataset.FIELD")
        dataset, _, field = token.text.partition(".")
        if dataset not in datasets:
            raise FilterExpressionError(
                token.position, f"expected a field of {' or '.join(datasets)} here, found '{token.text}'"
            )
        kind = self._kind(token, dataset, field)
        self.at += 1
        self.fields[token.text] = None
        return token.text, kind

    def _kind(self, token: _Token, dataset: str, field: str) -> FieldKind:
        source = USERS if dataset == CURRENT_USER else ITEMS if dataset == CURRENT_ITEM else dataset
        if dataset == INTERACTIONS and field != EVENT_TYPE:
            raise FilterExpressionError(
                token.position, f"Interactions data can be filtered by EVENT_TYPE only, found '{token.text}'"
            )
        known = self.catalog.get(source)
        if known is None:
            raise FilterExpressionError(
                token.position, f"'{token.text}' reads the {source} dataset, which is not configured"
            )
        if field not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise FilterExpressionError(
                token.position, f"{source} has no field {field!r} (its fields: {allowed}), found '{token.text}'"
            )
        if known[field] == "textual":
            raise FilterExpressionError(token.position, f"textual field '{token.text}' cannot be filtered")
        return known[field]

    def operation(self, kind: FieldKind, *, current_item: bool = True) -> None:
        token = self.token
        if token.text in COMPARISONS:
            if kind != "numeric":
                raise self.fail(f"a numeric field before {token.text}; use IN for this {kind} field", token)
            self.at += 1
            self.operand(("number", "placeholder"), current_item)
            return
        negated = token.text == "NOT"
        if negated:
            self.at += 1
        self.take("IN")
        if self.token.kind == "field" and current_item:
            self.field(self.token, (CURRENT_ITEM,))
            return
        self.take("(")
        if self.token.kind == "placeholder":
            if negated:
                raise self.fail("a list of values after NOT IN (Personalize takes no placeholder there)")
            self.operand(("placeholder",), False)
        else:
            self.operand(("string", "number"), False)
            while self.token.text == ",":
                self.at += 1
                self.operand(("string", "number"), False)
        self.take(")")

    def operand(self, kinds: tuple[str, ...], current_item: bool) -> None:
        token = self.token
        if token.kind == "field" and current_item:
            self.field(token, (CURRENT_ITEM,))
            return
        if token.kind not in kinds:
            names = {"string": 'a "quoted" value', "number": "a number", "placeholder": "a $PLACEHOLDER"}
            raise self.fail("expected " + " or ".join(names[kind] for kind in kinds))
        if token.kind == "placeholder":
            self.placeholders[token.text[1:]] = None
        self.at += 1


def parse_filter(expression: str, catalog: Mapping[str, Mapping[str, FieldKind]]) -> ParsedFilter:
    """The filter `expression`, checked against `catalog` (dataset type -> field -> kind: the datasets and fields
    configured); raises `FilterExpressionError` naming the position of the first problem."""
    if not expression.strip():
        raise FilterExpressionError(1, 'an expression such as EXCLUDE ItemID WHERE Items.GENRES IN ("Comedy")')
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise FilterExpressionError(MAX_EXPRESSION_LENGTH + 1, f"at most {MAX_EXPRESSION_LENGTH} characters")
    parser = _Parser(expression, catalog)
    parsed = parser.parse()
    if len(parsed.fields) > MAX_FIELDS_PER_FILTER:
        eleventh = list(parser.fields)[MAX_FIELDS_PER_FILTER]
        position = next(t.position for t in parser.tokens if t.text == eleventh)
        raise FilterExpressionError(
            position, f"at most {MAX_FIELDS_PER_FILTER} distinct fields in a filter; '{eleventh}' is one more"
        )
    return parsed


def fields_beyond_group_limit(filters: Iterable[ParsedFilter]) -> tuple[str, ...]:
    """The distinct fields past `MAX_FIELDS_PER_DATASET_GROUP` across a dataset group's filters (empty: within)."""
    seen: dict[str, None] = {}
    for parsed in filters:
        seen.update(dict.fromkeys(sorted(parsed.fields)))
    return tuple(list(seen)[MAX_FIELDS_PER_DATASET_GROUP:])


def filter_value(values: Iterable[str | float | int]) -> str:
    """A placeholder's value on a batch input line (`filterValues`): strings in escaped double quotes, numbers as
    they are, comma-separated (`"\\"horror\\",\\"comedy\\""` in the JSON line)."""
    return ",".join(
        str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else '"' + str(value) + '"'
        for value in values
    )
