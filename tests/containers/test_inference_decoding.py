"""Request bodies to model rows (``containers/inference/decoding.py``): every accepted shape, every
refusal with its message, the same numbers the training image reads from the same rows, and a
property: no input whatever makes the decoder fail other than with a 400."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from containers.contracts.features import CSV_COLUMNS, FEATURE_NAMES, FEATURES
from containers.inference import decoding
from containers.inference.errors import BadRequestError, UnsupportedMediaTypeError
from containers.training import sample_data
from containers.training import train as trainer

ROW = [12, 70.5, 846.0, 2, 0, 3, 1, 1, 14]
ROW_CSV = "12,70.5,846.0,2,0,3,1,1,14"
OTHER = [3, 20.25, 60.75, 0, 1, 1, 0, 0, 2]
OTHER_CSV = "3,20.25,60.75,0,1,1,0,0,2"
NAMES = ", ".join(FEATURE_NAMES)


def csv_rows(body: str) -> np.ndarray:
    return decoding.decode(body.encode(), decoding.CSV)


def json_rows(document: object) -> np.ndarray:
    return decoding.decode(json.dumps(document).encode(), decoding.JSON)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("text/csv", decoding.CSV),
        ("text/csv; charset=utf-8", decoding.CSV),
        ("Text/CSV", decoding.CSV),
        ("application/json", decoding.JSON),
        (" application/json ; charset=UTF-8", decoding.JSON),
    ],
)
def test_request_media_types(header: str, expected: str) -> None:
    assert decoding.request_media_type(header) == expected


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "no Content-Type is not supported; send text/csv or application/json"),
        ("", "no Content-Type is not supported"),
        ("text/plain", "Content-Type 'text/plain' is not supported; send text/csv or application/json"),
        ("application/x-www-form-urlencoded", "Content-Type 'application/x-www-form-urlencoded' is not supported"),
        ("application/jsonlines", "is not supported"),
        ("text/csvx", "is not supported"),
    ],
)
def test_unsupported_media_types_are_415(header: str | None, message: str) -> None:
    with pytest.raises(UnsupportedMediaTypeError) as caught:
        decoding.request_media_type(header)
    assert caught.value.status == 415
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (ROW_CSV, [ROW]),
        (ROW_CSV + "\n", [ROW]),
        (ROW_CSV + "\r\n" + OTHER_CSV + "\r\n", [ROW, OTHER]),
        ("\n" + ROW_CSV + "\n\n  \n" + OTHER_CSV, [ROW, OTHER]),
        ("\ufeff" + ROW_CSV, [ROW]),
        (" 12 , 70.5,846.0,2,0,3,1,1, 14 ", [ROW]),
        ('"12",70.5,"846.0",2,0,3,1,1,14', [ROW]),
        ("12,,846.0,2,0,3,1,1,", [[12, math.nan, 846.0, 2, 0, 3, 1, 1, math.nan]]),
        (",,,,,,,,", [[math.nan] * 9]),
    ],
)
def test_csv_bodies(body: str, expected: list[list[float]]) -> None:
    rows = csv_rows(body)
    assert rows.dtype == np.float64
    np.testing.assert_array_equal(rows, np.array(expected, dtype=np.float64))


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (ROW, [ROW]),
        ([ROW, OTHER], [ROW, OTHER]),
        ({"instances": [ROW, OTHER]}, [ROW, OTHER]),
        ({"instances": ROW}, [ROW]),
        ([[None, *ROW[1:]]], [[math.nan, *ROW[1:]]]),
        ([1e2, 0.5, -1, 0, 0, 0, 0, 0, 0], [[100, 0.5, -1, 0, 0, 0, 0, 0, 0]]),
    ],
)
def test_json_bodies(document: object, expected: list[list[float]]) -> None:
    np.testing.assert_array_equal(json_rows(document), np.array(expected, dtype=np.float64))


BAD_CSV = [
    ("", "empty body; send one or more rows of 9 values (tenure_months, "),
    ("\n\n \r\n", "empty body"),
    ("1,2,3", f"row 1 has 3 columns; the model expects 9: {NAMES}"),
    ("5", "row 1 has 1 column; the model expects 9"),
    (f"{ROW_CSV}\n\n1,2", "row 3 has 2 columns; the model expects 9"),
    (f"0,{ROW_CSV}", "row 1 has 10 columns; the model expects 9"),
    (f"{ROW_CSV}\n12,70.5,abc,2,0,3,1,1,14", "row 2, column 3 (total_charges): 'abc' is not a number"),
    ("12,70.5,846.0,2,0,3,1,1,x", "row 1, column 9 (days_since_last_login): 'x' is not a number"),
    ("12,nan,846.0,2,0,3,1,1,14", "row 1, column 2 (monthly_charges): 'nan' is not a number"),
    ("12,1_000,846.0,2,0,3,1,1,14", "'1_000' is not a number"),
    ("12,1e999,846.0,2,0,3,1,1,14", "row 1, column 2 (monthly_charges): '1e999' is not finite"),
    ("12.5,70.5,846.0,2,0,3,1,1,14", "row 1, column 1 (tenure_months): '12.5' is not a whole number (tenure_months is an int feature)"),
    ("12,70.5,846.0,2,0,3,1,1,1\x004", "row 1, column 9 (days_since_last_login): '1\\x004' is not a number"),
    (f"{','.join(FEATURE_NAMES)}\n{ROW_CSV}", f"row 1 is a header ({NAMES}); send the rows only, without a header"),
    (f"{','.join(CSV_COLUMNS)}\n0,{ROW_CSV}", "row 1 is a header (churned, tenure_months,"),
    ('"12,70.5,846.0,2,0,3,1,1,14', "malformed CSV at row 1: unexpected end of data"),
    ('"12"x,70.5,846.0,2,0,3,1,1,14', "malformed CSV at row 1: ',' expected after '\"'"),
]


@pytest.mark.parametrize(("body", "message"), BAD_CSV)
def test_bad_csv_is_400_with_what_is_wrong(body: str, message: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        csv_rows(body)
    assert caught.value.status == 400
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_csv_that_is_not_utf8_is_400() -> None:
    with pytest.raises(BadRequestError) as caught:
        decoding.decode(b"12,\xff\xfe,1", decoding.CSV)
    assert "body is not UTF-8 text" in caught.value.message


BAD_JSON = [
    (b"{", "malformed JSON: Expecting property name enclosed in double quotes"),
    (b"[1, 2,]", "malformed JSON"),
    (b"\xff\xfe\x00", "malformed JSON"),
    (b"[" * 100_000, "malformed JSON: nested too deeply"),
    (b"1" * 5000, "malformed JSON"),  # over Python's int-to-str digit limit
    (b"[]", "empty body: no rows"),
    (b'{"instances": []}', "empty body: no rows"),
    (b'{"rows": []}', 'a JSON object must be {"instances": [...]}, got keys [\'rows\']'),
    (b'{"instances": [], "extra": 1}', 'a JSON object must be {"instances": [...]}'),
    (b'"text"', "the JSON body is a str; send a row [v1, v2, ...], a list of rows [[...], ...] or {\"instances\": [...]}"),
    (b'{"instances": 5}', "the JSON body is a int"),
    (b"[1, 2, 3]", f"row 1 has 3 values; the model expects 9: {NAMES}"),
    (json.dumps([ROW, [1, 2]]).encode(), "row 2 has 2 values; the model expects 9"),
    (json.dumps([ROW, 5]).encode(), "the JSON list mixes rows and single values"),
    (json.dumps([[*ROW[:2], "846.0", *ROW[3:]]]).encode(), 'row 1, column 3 (total_charges): "846.0" is not a number'),
    (json.dumps([[True, *ROW[1:]]]).encode(), "row 1, column 1 (tenure_months): true is not a number"),
    (json.dumps([[{"a": 1}, *ROW[1:]]]).encode(), 'row 1, column 1 (tenure_months): {"a": 1} is not a number'),
    (json.dumps([ROW, [[1], *ROW[1:]]]).encode(), "row 2, column 1 (tenure_months): [1] is not a number"),
    (b"[12, NaN, 846.0, 2, 0, 3, 1, 1, 14]", "row 1, column 2 (monthly_charges): nan is not finite"),
    (b"[12, 1e999, 846.0, 2, 0, 3, 1, 1, 14]", "row 1, column 2 (monthly_charges): inf is not finite"),
    (b"[12.5, 70.5, 846.0, 2, 0, 3, 1, 1, 14]", "row 1, column 1 (tenure_months): 12.5 is not a whole number"),
    (("[" + "9" * 400 + ", 70.5, 846.0, 2, 0, 3, 1, 1, 14]").encode(), "row 1, column 1 (tenure_months): an integer too large"),
    (b"[[" + b"1," * 8 + b"1]", "malformed JSON"),
]


@pytest.mark.parametrize(("body", "message"), BAD_JSON)
def test_bad_json_is_400_with_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        decoding.decode(body, decoding.JSON)
    assert caught.value.status == 400
    assert message in caught.value.message
    assert "\n" not in caught.value.message and len(caught.value.message) <= 500


def test_a_huge_bad_value_is_quoted_short() -> None:
    body = f'[12, "{"x" * 100_000}", 846.0, 2, 0, 3, 1, 1, 14]'.encode()
    with pytest.raises(BadRequestError) as caught:
        decoding.decode(body, decoding.JSON)
    assert caught.value.message.startswith("row 1, column 2 (monthly_charges):")
    assert len(caught.value.message) <= 500


def test_serving_reads_rows_exactly_as_training_does(tmp_path: Path) -> None:
    """Training/serving skew check: the trainer's reader and the decoder, same rows, same numbers."""
    labels, matrix = sample_data.generate(300, seed=3)
    matrix = matrix.astype(float)
    matrix[::7, 1] = math.nan  # missing values travel as empty cells in both
    training_csv = sample_data.to_csv(labels, matrix).replace(",nan,", ",,")
    assert ",," in training_csv
    channel = tmp_path / "input" / "data" / "train"
    channel.mkdir(parents=True)
    (channel / "rows.csv").write_text(training_csv)
    trained_view = trainer.load_channel(trainer.SageMakerPaths(tmp_path), "train").features
    body = "\n".join(line.split(",", 1)[1] for line in training_csv.splitlines()[1:])  # no header, no label
    np.testing.assert_array_equal(csv_rows(body), trained_view)
    as_json = [[None if math.isnan(v) else v for v in row] for row in trained_view.tolist()]
    np.testing.assert_array_equal(json_rows({"instances": as_json}), trained_view)


CELLS = st.one_of(
    st.sampled_from(["1", "0", "-3", "2.5", "1e3", "", " ", "nan", "x", "1_0", '"4"', "7.", "\u0663", "1e999", "\x00"]),
    st.text(alphabet='0123456789.,-+eE "\r\n\t\\x', max_size=6),
)


@settings(max_examples=250, deadline=None)
@given(st.lists(st.lists(CELLS, min_size=0, max_size=11), max_size=6), st.sampled_from(["\n", "\r\n"]))
def test_random_csv_is_rows_or_a_400(rows: list[list[str]], newline: str) -> None:
    body = newline.join(",".join(row) for row in rows).encode()
    try:
        result = decoding.decode(body, decoding.CSV)
    except BadRequestError as exc:
        assert exc.message and "\n" not in exc.message
    else:
        assert result.shape[1] == len(FEATURES) and result.shape[0] >= 1
        assert not np.isinf(result).any()


@settings(max_examples=250, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([decoding.CSV, decoding.JSON]))
def test_random_bytes_are_rows_or_a_400(body: bytes, kind: str) -> None:
    try:
        result = decoding.decode(body, kind)
    except BadRequestError as exc:
        assert exc.message and "\n" not in exc.message
    else:
        assert result.shape[1] == len(FEATURES)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda children: st.lists(children, max_size=10) | st.dictionaries(st.sampled_from(["instances", "x"]), children, max_size=2),
    max_leaves=40,
)


@settings(max_examples=250, deadline=None)
@given(JSON_VALUES)
def test_random_json_documents_are_rows_or_a_400(document: object) -> None:
    body = json.dumps(document).encode()
    try:
        result = decoding.decode(body, decoding.JSON)
    except BadRequestError as exc:
        assert exc.message and "\n" not in exc.message
    else:
        assert result.shape[1] == len(FEATURES) and not np.isinf(result).any()
