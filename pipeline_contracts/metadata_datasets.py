"""Items and Users datasets: the configuration both the CDK app and the Glue job read, and its Avro schema.

A dataset is configured in cdk.json as `items_dataset` / `users_dataset` (absent or empty = disabled):

    {"fields": [{"name": "GENRES", "type": "categorical"}, {"name": "YEAR", "type": "int"}],
     "sources": [{"prefix": "items/movies/", "delimiter": "\\t", "has_header": true, "id_column": "id",
                  "columns": {"YEAR": "year"}},
                 {"prefix": "items/genres/", "delimiter": "\\t", "id_column": "movieID",
                  "columns": {"GENRES": "genre"}, "shape": "long"}]}

Every field comes from exactly one source; a source is read by the header of each file (or by 0-based
positions without a header) and its rows are joined with the other sources' on the id. A `wide` source
has one row per id; a categorical column may hold several values split by `separator` (ml-latest
`genres`: `A|B|C`). A `long` source has one row per (id, value) and is aggregated per id (HetRec
`movie_genres.dat`). A `one_hot` source maps a set of 0/1 columns to one categorical field, each column
naming its value (ml-100k `u.item`'s 19 genre flags). Each source declares its `encoding` (ENCODINGS),
the cell texts that mean null (`null_values`) and date formats (`dates`: a strptime-style format read to an
int year, or to epoch seconds for a long / CREATION_TIMESTAMP field). Standard library only: the same file
ships in the Glue job's zip.

`parse_dataset(kind, raw)` checks Amazon Personalize's limits and raises `DatasetSpecError` naming the key,
the value and what is allowed; `avro_schema(spec)` is the schema the data stack creates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Literal

DatasetKind = Literal["items", "users"]
KINDS: tuple[DatasetKind, ...] = ("items", "users")
ID_FIELD = {"items": "ITEM_ID", "users": "USER_ID"}
DATASET_TYPE = {"items": "Items", "users": "Users"}
CONFIG_KEY = {"items": "items_dataset", "users": "users_dataset"}

# Amazon Personalize's limits for custom Items / Users schemas and their data.
MAX_FIELDS = {"items": 100, "users": 25}
MAX_ID_LENGTH = 256
MAX_SCHEMA_LENGTH = 20000  # CreateSchema's `schema` (botocore model: AvroSchema, max 20000)
MAX_CATEGORICAL_LENGTH = 1000
CATEGORICAL_SEPARATOR = "|"
CREATION_TIMESTAMP = "CREATION_TIMESTAMP"
# Names Personalize reserves (with fixed types) in some dataset type; a metadata field may not use them.
# CREATION_TIMESTAMP is configured by its type, not by name.
RESERVED_NAMES = frozenset(
    {
        "USER_ID",
        "ITEM_ID",
        "ACTION_ID",
        "TIMESTAMP",
        "EVENT_TYPE",
        "EVENT_VALUE",
        "IMPRESSION",
        "RECOMMENDATION_ID",
        "EVENT_ATTRIBUTION_SOURCE",
        "CREATION_TIMESTAMP",
        "EXPIRATION_TIMESTAMP",
        "REPEAT_FREQUENCY",
        "VALUE",
        "TYPE",
    }
)
# Field type -> (Avro type, extra schema attributes). Metadata fields are nullable: an id that one source
# lacks still has the other sources' values. Textual fields exist only in Items schemas.
FIELD_TYPES: Mapping[str, tuple[Any, Mapping[str, Any]]] = {
    "categorical": (["null", "string"], {"categorical": True}),
    "textual": (["null", "string"], {"textual": True}),
    "int": (["null", "int"], {}),
    "long": (["null", "long"], {}),
    "float": (["null", "float"], {}),
    "double": (["null", "double"], {}),
    "creation_timestamp": ("long", {}),
}
NUMERIC_TYPES = frozenset({"int", "long", "float", "double"})
SHAPES = ("wide", "long", "one_hot")
# Source encodings (Python's names) -> the Java charset Spark decodes with. utf-8-sig is utf-8 whose
# byte-order mark is dropped (a leading BOM is dropped with utf-8 too).
# The ratings input (`raw_encoding`) takes the same names.
Encoding = Literal["utf-8", "utf-8-sig", "latin-1", "cp1252"]
ENCODINGS: dict[str, str] = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "latin-1": "ISO-8859-1", "cp1252": "windows-1252"}
# strptime directives a date format may use -> Spark's (java.time) pattern letters.
DATE_DIRECTIVES = {
    "%Y": "yyyy", "%y": "yy", "%m": "MM", "%d": "dd", "%b": "MMM", "%B": "MMMM",
    "%H": "HH", "%M": "mm", "%S": "ss", "%j": "DDD",
}
# strptime reads these numbers with fewer digits too (ml-100k's `4-Feb-1971`); so does a one-letter Spark
# pattern, which is used unless another directive is next to it (there, the digit count splits the two).
VARIABLE_WIDTH_DIRECTIVES = {"%m": "M", "%d": "d", "%H": "H", "%M": "m", "%S": "s", "%j": "D"}
# What a date is read to, by the type of the field it fills.
DATE_TARGETS = {"int": "year", "long": "epoch_seconds", "creation_timestamp": "epoch_seconds"}
MAX_NULL_VALUES = 20
DISABLED = "{}"  # a job argument's value for a dataset that is not configured
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,149}$")
_S3_PREFIX = re.compile(r"^([A-Za-z0-9!_.*'()-]+/)+$")
_DELIMITER_WORDS = {"\\t": "\t", "tab": "\t", "comma": ",", "space": " ", "pipe": "|", "semicolon": ";"}


class DatasetSpecError(ValueError):
    """A dataset configuration Personalize (or the ETL) cannot take; names key, value and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        super().__init__(f"cdk.json context key '{key}' has value {value!r}; allowed: {allowed}")
        self.key, self.value, self.allowed = key, value, allowed


@dataclass(frozen=True)
class Field:
    name: str
    type: str

    @property
    def categorical(self) -> bool:
        return self.type == "categorical"


@dataclass(frozen=True)
class Source:
    """One raw source: where its files are, how to read them, and which fields it provides."""

    prefix: str
    id_column: str
    columns: Mapping[str, str]  # field name -> column name (with a header) or 0-based position
    delimiter: str = ","
    has_header: bool = True
    shape: str = "wide"
    separator: str | None = None  # splits a wide source's categorical cell into values
    encoding: str = "utf-8"
    null_values: tuple[str, ...] = ()  # cell texts (after trimming) read as null
    dates: Mapping[str, str] = dc_field(default_factory=dict)  # field name -> strptime-style format
    one_hot: Mapping[str, str] = dc_field(default_factory=dict)  # one_hot shape: column -> value name

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names this source provides."""
        return tuple(self.columns)

    @property
    def read_columns(self) -> tuple[str, ...]:
        """The columns read besides the id (names, or positions without a header)."""
        return tuple(self.one_hot) if self.shape == "one_hot" else tuple(self.columns.values())

    def as_json(self) -> dict[str, Any]:
        columns: dict[str, Any] = dict(self.columns)
        if self.shape == "one_hot":
            columns = {name: dict(self.one_hot) for name in self.columns}
        return {
            "prefix": self.prefix,
            "id_column": self.id_column,
            "columns": columns,
            "delimiter": self.delimiter,
            "has_header": self.has_header,
            "shape": self.shape,
            "separator": self.separator,
            "encoding": self.encoding,
            "null_values": list(self.null_values),
            "dates": dict(self.dates),
        }


@dataclass(frozen=True)
class DatasetSpec:
    kind: DatasetKind
    fields: tuple[Field, ...]
    sources: tuple[Source, ...]

    @property
    def id_field(self) -> str:
        return ID_FIELD[self.kind]

    @property
    def header(self) -> tuple[str, ...]:
        """The CSV header the ETL writes: the id, then the fields in configured order."""
        return (self.id_field, *(field.name for field in self.fields))

    def as_json(self) -> dict[str, Any]:
        """The normalised configuration (the Glue job argument; `parse_dataset` reads it back)."""
        return {
            "fields": [{"name": field.name, "type": field.type} for field in self.fields],
            "sources": [source.as_json() for source in self.sources],
        }


def avro_schema(spec: DatasetSpec) -> dict[str, Any]:
    """The Personalize schema of a dataset: the id, then each field with its Avro type and flags."""
    fields: list[dict[str, Any]] = [{"name": spec.id_field, "type": "string"}]
    for field in spec.fields:
        avro_type, flags = FIELD_TYPES[field.type]
        fields.append({"name": field.name, "type": avro_type, **flags})
    return {
        "type": "record",
        "name": DATASET_TYPE[spec.kind],
        "namespace": "com.amazonaws.personalize.schema",
        "fields": fields,
        "version": "1.0",
    }


def schema_text(spec: DatasetSpec) -> str:
    """The schema as the data stack creates it (compact JSON): what Personalize's length limit counts."""
    return json.dumps(avro_schema(spec), separators=(",", ":"))


def parse_dataset(kind: DatasetKind, raw: Any) -> DatasetSpec | None:
    """The dataset configured by `raw` (a mapping, or its JSON text); None when absent or empty (disabled)."""
    key = CONFIG_KEY[kind]
    if isinstance(raw, str) and raw.strip():
        try:
            raw = json.loads(raw)
        except ValueError:
            raise DatasetSpecError(key, raw, "a JSON object with 'fields' and 'sources', or empty") from None
    if raw in (None, "", {}):
        return None
    if not isinstance(raw, Mapping) or set(raw) - {"fields", "sources"}:
        raise DatasetSpecError(key, raw, "an object with the keys 'fields' and 'sources' only, or empty")
    fields = _fields(kind, key, raw.get("fields"))
    sources = _sources(key, raw.get("sources"), fields)
    spec = DatasetSpec(kind=kind, fields=fields, sources=sources)
    length = len(schema_text(spec))
    if length > MAX_SCHEMA_LENGTH:
        raise DatasetSpecError(
            f"{key}.fields",
            f"{len(fields)} fields whose Avro schema has {length} characters",
            f"fields whose schema has at most {MAX_SCHEMA_LENGTH} characters (Personalize's limit): shorter names",
        )
    return spec


def _fields(kind: DatasetKind, key: str, raw: Any) -> tuple[Field, ...]:
    limit = MAX_FIELDS[kind]
    if not isinstance(raw, list) or not 1 <= len(raw) <= limit:
        count = len(raw) if isinstance(raw, list) else raw
        raise DatasetSpecError(f"{key}.fields", count, f"a list of 1 to {limit} metadata fields ({kind} limit)")
    fields: list[Field] = []
    for index, entry in enumerate(raw):
        where = f"{key}.fields[{index}]"
        if not isinstance(entry, Mapping) or set(entry) != {"name", "type"}:
            raise DatasetSpecError(where, entry, "an object with 'name' and 'type'")
        name, field_type = entry["name"], entry["type"]
        allowed_types = [t for t in FIELD_TYPES if kind == "items" or t not in ("textual", "creation_timestamp")]
        if field_type not in allowed_types:
            raise DatasetSpecError(f"{where}.type", field_type, f"one of {', '.join(allowed_types)} ({kind} dataset)")
        if field_type == "creation_timestamp":
            if name != CREATION_TIMESTAMP:
                raise DatasetSpecError(f"{where}.name", name, f"{CREATION_TIMESTAMP} for type creation_timestamp")
        elif not isinstance(name, str) or not _FIELD_NAME.match(name):
            raise DatasetSpecError(f"{where}.name", name, "1-150 letters, digits and '_', not starting with a digit")
        elif name.upper() in RESERVED_NAMES:
            raise DatasetSpecError(f"{where}.name", name, "a name that is not a Personalize reserved keyword")
        if any(field.name.upper() == name.upper() for field in fields):
            raise DatasetSpecError(f"{where}.name", name, "a name no other field of the dataset has")
        fields.append(Field(name=name, type=field_type))
    return tuple(fields)


def _sources(key: str, raw: Any, fields: tuple[Field, ...]) -> tuple[Source, ...]:
    if not isinstance(raw, list) or not raw:
        raise DatasetSpecError(f"{key}.sources", raw, "a list of at least one raw source")
    declared = {field.name: field for field in fields}
    provided: dict[str, str] = {}
    sources = []
    for index, entry in enumerate(raw):
        where = f"{key}.sources[{index}]"
        source = _source(where, entry, declared)
        for name in source.fields:
            if name in provided:
                raise DatasetSpecError(f"{where}.columns", name, f"a field no other source provides ({provided[name]})")
            provided[name] = where
        sources.append(source)
    missing = [name for name in declared if name not in provided]
    if missing:
        raise DatasetSpecError(f"{key}.sources", missing, "sources whose columns provide every declared field")
    return tuple(sources)


_SOURCE_KEYS = (
    "prefix", "id_column", "columns", "delimiter", "has_header", "shape", "separator", "encoding", "null_values",
    "dates",
)


def _source(where: str, entry: Any, declared: Mapping[str, Field]) -> Source:
    known = set(_SOURCE_KEYS)
    if not isinstance(entry, Mapping) or set(entry) - known or not {"prefix", "id_column", "columns"} <= set(entry):
        raise DatasetSpecError(where, entry, f"an object with prefix, id_column, columns and optionally {known}")
    prefix = entry["prefix"]
    if not isinstance(prefix, str) or not _S3_PREFIX.match(prefix):
        raise DatasetSpecError(f"{where}.prefix", prefix, "an S3 key prefix ending in '/', e.g. items/movies/")
    delimiter = _character(f"{where}.delimiter", entry.get("delimiter", ","))
    separator = entry.get("separator")
    if separator is not None:
        separator = _character(f"{where}.separator", separator)
        if separator == delimiter:
            raise DatasetSpecError(f"{where}.separator", separator, "a character other than the delimiter")
    has_header = entry.get("has_header", True)
    if not isinstance(has_header, bool):
        raise DatasetSpecError(f"{where}.has_header", has_header, "true or false")
    shape = entry.get("shape", "wide")
    if shape not in SHAPES:
        raise DatasetSpecError(
            f"{where}.shape", shape,
            "wide (one row per id), long (one row per id and value) or one_hot (0/1 columns -> one categorical field)",
        )
    if shape == "one_hot":
        parsed_columns, one_hot = _one_hot_columns(where, entry["columns"], declared, has_header)
    else:
        parsed_columns, one_hot = _source_columns(where, entry["columns"], declared, shape, has_header), {}
    if separator is not None and (shape == "one_hot" or not any(declared[n].categorical for n in parsed_columns)):
        raise DatasetSpecError(f"{where}.separator", separator, "only with a categorical column to split")
    return Source(
        prefix=prefix,
        id_column=_column(f"{where}.id_column", entry["id_column"], has_header),
        columns=parsed_columns,
        delimiter=delimiter,
        has_header=has_header,
        shape=shape,
        separator=separator,
        encoding=_encoding(f"{where}.encoding", entry.get("encoding", "utf-8")),
        null_values=_null_values(f"{where}.null_values", entry.get("null_values", [])),
        dates=_dates(f"{where}.dates", entry.get("dates", {}), declared, parsed_columns, shape),
        one_hot=one_hot,
    )


def _encoding(key: str, value: Any) -> str:
    if value not in ENCODINGS:
        raise DatasetSpecError(key, value, f"one of {', '.join(ENCODINGS)} (the encoding the files are written in)")
    return str(value)


def _null_values(key: str, value: Any) -> tuple[str, ...]:
    valid = isinstance(value, list) and len(value) <= MAX_NULL_VALUES and all(isinstance(v, str) for v in value)
    if not valid or len(set(value)) != len(value):
        raise DatasetSpecError(
            key, value, f'a list of at most {MAX_NULL_VALUES} distinct strings read as null, e.g. ["\\N", ""]'
        )
    return tuple(text.strip() for text in value)


def spark_date_pattern(date_format: str) -> str:
    """A strptime-style format as a Spark datetime pattern: directives translated, literal text quoted.
    Raises ValueError naming the first directive that has no translation."""
    pattern, literal = [], ""
    pieces = [piece for piece in re.split(r"(%.)", date_format) if piece]
    for index, piece in enumerate(pieces):
        if not piece.startswith("%") or piece == "%":
            literal += piece
            continue
        if piece == "%%":
            literal += "%"
            continue
        if piece not in DATE_DIRECTIVES:
            raise ValueError(piece)
        if literal:
            pattern.append("'" + literal.replace("'", "''") + "'")
            literal = ""
        neighbours = pieces[index - 1 : index] + pieces[index + 1 : index + 2]
        adjacent = any(other.startswith("%") and other not in ("%", "%%") for other in neighbours)
        variable = None if adjacent else VARIABLE_WIDTH_DIRECTIVES.get(piece)
        pattern.append(variable or DATE_DIRECTIVES[piece])
    if literal:
        pattern.append("'" + literal.replace("'", "''") + "'")
    return "".join(pattern)


def _dates(
    key: str, value: Any, declared: Mapping[str, Field], columns: Mapping[str, str], shape: str
) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise DatasetSpecError(key, value, 'an object: field name -> date format, e.g. {"YEAR": "%d-%b-%Y"}')
    allowed = f"a strptime format using {', '.join(DATE_DIRECTIVES)} (and %%)"
    for name, date_format in value.items():
        if shape != "wide" or name not in columns or declared[name].type not in DATE_TARGETS:
            raise DatasetSpecError(
                key, name, "a field of this wide source of type int (read to the year), long or creation_timestamp "
                "(read to epoch seconds, UTC)"
            )
        try:
            valid = isinstance(date_format, str) and bool(spark_date_pattern(date_format).strip("'"))
        except ValueError:
            valid = False
        if not valid:
            raise DatasetSpecError(f"{key}.{name}", date_format, allowed)
        if DATE_TARGETS[declared[name].type] == "year" and not re.search("%[Yy]", date_format):
            raise DatasetSpecError(f"{key}.{name}", date_format, f"{allowed} with %Y or %y (the field is a year)")
    return dict(value)


def _one_hot_columns(
    where: str, columns: Any, declared: Mapping[str, Field], has_header: bool
) -> tuple[dict[str, str], dict[str, str]]:
    """A one_hot source's ({field: ""}, {column: value name}): one categorical field, its 0/1 columns."""
    allowed = 'one categorical field -> {column: value name}, e.g. {"GENRES": {"6": "Action", "7": "Adventure"}}'
    if not isinstance(columns, Mapping) or len(columns) != 1:
        raise DatasetSpecError(f"{where}.columns", columns, allowed)
    ((name, flags),) = columns.items()
    if name not in declared or not declared[name].categorical or not isinstance(flags, Mapping) or not flags:
        raise DatasetSpecError(f"{where}.columns", columns, allowed)
    one_hot: dict[str, str] = {}
    for column, value_name in flags.items():
        key = f"{where}.columns.{name}.{column}"
        parsed = _column(key, column, has_header)
        valid = isinstance(value_name, str) and value_name.strip() == value_name and value_name
        if not valid or CATEGORICAL_SEPARATOR in value_name or len(value_name) > MAX_CATEGORICAL_LENGTH:
            raise DatasetSpecError(
                key, value_name, f"a value name: 1-{MAX_CATEGORICAL_LENGTH} characters, no '|', no outer spaces"
            )
        if value_name in one_hot.values():
            raise DatasetSpecError(key, value_name, "a value name no other column of the field has")
        one_hot[parsed] = value_name
    return {name: ""}, one_hot


def _source_columns(
    where: str, columns: Any, declared: Mapping[str, Field], shape: str, has_header: bool
) -> dict[str, str]:
    """A source's field name -> column mapping, checked against the declared fields and the source's shape."""
    if not isinstance(columns, Mapping) or not columns:
        raise DatasetSpecError(f"{where}.columns", columns, "an object: field name -> column name or position")
    parsed_columns = {}
    for name, column in columns.items():
        if name not in declared:
            raise DatasetSpecError(f"{where}.columns", name, f"one of the declared fields {sorted(declared)}")
        if shape == "long" and (len(columns) != 1 or not declared[name].categorical):
            raise DatasetSpecError(f"{where}.columns", dict(columns), "one categorical field for a long source")
        parsed_columns[name] = _column(f"{where}.columns.{name}", column, has_header)
    return parsed_columns


def _character(key: str, value: Any) -> str:
    decoded = _DELIMITER_WORDS.get(value, value) if isinstance(value, str) else value
    if not isinstance(decoded, str) or len(decoded) != 1 or decoded in '\r\n"':
        raise DatasetSpecError(key, value, 'one character (not a quote or newline), or "\\t" / "tab"')
    return decoded


def _column(key: str, value: Any, has_header: bool) -> str:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text.strip() or (not has_header and not text.isdigit()):
        allowed = "a column name from the header" if has_header else "a 0-based position (the source has no header)"
        raise DatasetSpecError(key, value, allowed)
    return text
