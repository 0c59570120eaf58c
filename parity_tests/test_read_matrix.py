"""Reading a case's matrix at once gives what reading it cell by cell gives.

``cases.read_matrix`` tests the number grammar on all cells in one go and converts
them with numpy; only when that fails does it go cell by cell
(``cases.read_cell_by_cell``), which names the first bad row or cell. The two must
agree on every file: the same doubles, bit for bit, and a refusal exactly where the
cell-by-cell reading refuses (its message is then the one the user sees).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnparity import cases, rnumbers
from nnparity.cases import CaseError, _read_at_once, read_cell_by_cell
from nnparity.floats import bitwise_equal

#: Cells both readings must refuse, or that only look like numbers.
ODD = ["nan", " NaN", "-inf", "Infinity", "NA", "1e999", "-1e400", "1,2", "", " ", "0x1p3",
       "1_0", "\u0661", "1e", ".", "+-1", "1..2", "e5", "1 2", "\u00a0", "'1'"]
SPACES = ["", " ", "  ", "\t", "\u00a0", "\u2003", "\x1f"]

numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:.25g}"),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["1.", ".5", "-0", "+0.0", "1E5", "2e-310", "1e308", "007"]),
)
cells = st.one_of(
    st.tuples(st.sampled_from(SPACES), numbers, st.sampled_from(SPACES)).map("".join),
    st.sampled_from(ODD),
)


@st.composite
def tables(draw) -> list[list[str]]:
    """Rows of cells as csv.reader gives them; now and then one ragged or blank row."""
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), min_size=1,
                         max_size=5))
    if draw(st.integers(0, 9)) == 0:
        rows[draw(st.integers(0, len(rows) - 1))] = draw(st.lists(cells, max_size=5))
    return rows


@given(tables())
def test_reading_at_once_agrees_with_reading_cell_by_cell(rows):
    fast = _read_at_once(rows, cases.first_places(rows))
    try:
        slow = read_cell_by_cell(Path("m.csv"), rows)
    except CaseError as error:
        assert fast is None, f"read at once, refused cell by cell ({error}): {rows!r}"
        return
    assert fast is not None, f"refused at once, read cell by cell: {rows!r}"
    assert fast.shape == slow.shape
    assert np.array_equal(fast.view(np.int64), slow.view(np.int64)), rows


@pytest.mark.parametrize("name", cases.names())
def test_every_fixture_reads_the_same_both_ways(name):
    for matrix in cases.MATRICES:
        path = cases.FIXTURES / name / f"{matrix}.csv"
        rows = cases.read_rows(path)
        fast = _read_at_once(rows, cases.first_places(rows))
        slow = read_cell_by_cell(path, rows)
        assert fast is not None, f"{path} was not read at once"
        assert np.array_equal(fast.view(np.int64), slow.view(np.int64)), path


def test_a_space_that_float_does_not_take_is_named_like_any_bad_cell(tmp_path):
    """str.strip removes '\\x1f' (a unit separator) and float does not: a bad cell, not a crash."""
    path = tmp_path / "X.csv"
    path.write_text("1.0,0.0\n0.5,1.0\x1f\n")
    with pytest.raises(CaseError, match=r"row 2, column 2: '1\.0\\x1f' is not a number"):
        cases.read_matrix(path)


def decimals(count: int, seed: int) -> list[str]:
    """Decimals as people and programs write them: repr, fixed and exponent forms, 1 to 25
    significant digits, leading zeros, a sign, exponents from subnormal to near overflow."""
    rng = random.Random(seed)
    forms = [
        lambda: repr(rng.uniform(-10, 10)),
        lambda: repr(rng.uniform(-1, 1) * 10.0 ** rng.randrange(-320, 308)),
        lambda: f"{rng.uniform(0, 1):.{rng.randrange(1, 20)}f}",
        lambda: f"{rng.uniform(-1, 1):.{rng.randrange(1, 20)}e}",
        lambda: "0." + "0" * rng.randrange(8) + str(rng.randrange(1, 10 ** rng.randrange(1, 18))),
        lambda: f"{rng.randrange(1, 10 ** rng.randrange(1, 25))}e{rng.randrange(-40, 40)}",
    ]
    return [forms[rng.randrange(len(forms))]() for _ in range(count)]


@pytest.mark.usefixtures("r_available")
def test_the_emulation_of_rs_reader_gives_rs_double_for_every_decimal(tmp_path):
    # Python's float rounds every decimal correctly and R's read.csv does not (about one in
    # 5,000 with 12+ digits is a ULP off): nnparity.rnumbers computes what R computes.
    from nnparity.bridge import call

    texts = decimals(20_000, seed=20261207)
    path = tmp_path / "numbers.csv"
    path.write_text("\n".join(texts) + "\n")
    table = call("read.csv", str(path), header=False, colClasses="numeric")
    from_r = np.asarray(call("as.matrix", table), dtype=np.float64)[:, 0]
    emulated = rnumbers.r_reads(texts)
    differs = np.nonzero(~bitwise_equal(emulated, from_r))[0]
    assert differs.size == 0, (
        f"{differs.size} of {len(texts)} decimals: R reads {texts[differs[0]]} as "
        f"{from_r[differs[0]]!r}, the emulation says {emulated[differs[0]]!r}"
    )
    python = np.array([float(text) for text in texts])
    assert (~bitwise_equal(python, from_r)).any(), (
        "R read every decimal as Python does: this sample no longer shows why the check exists"
    )


@pytest.mark.usefixtures("r_available")
def test_a_written_case_holds_decimals_r_reads_as_the_very_doubles(tmp_path):
    # repr(0.8742647628088) is '0.8742647628088', which R reads one ULP higher: the writer
    # picks another decimal of the same double for such a cell, and lr.
    from nnparity.bridge import call

    values = np.array([[0.8742647628088, 0.46, 39.110088137299996, 1.19007925435e-21]])
    text = cases.format_matrix(values)
    assert text.split(",")[0] != repr(values[0, 0]), "the writer kept a decimal R misreads"
    path = tmp_path / "m.csv"
    path.write_text(text)
    table = call("read.csv", str(path), header=False, colClasses="numeric")
    from_r = np.asarray(call("as.matrix", table), dtype=np.float64)
    assert bitwise_equal(from_r.reshape(values.shape), values).all(), (
        f"R reads {text.strip()} as {from_r.ravel().tolist()}, not {values.ravel().tolist()}"
    )
    assert bitwise_equal(cases.read_matrix(path), values).all()


#: Empty lines where an editor leaves them: at the end, between rows, at the start, with
#: Windows' line ends. R's read.csv skips every one (blank.lines.skip).
EMPTY_LINES = {
    "at-the-end": "0.5,1\n2,3\n\n\n",
    "between-rows": "0.5,1\n\n2,3\n",
    "at-the-start": "\n0.5,1\n2,3\n",
    "windows-line-ends": "0.5,1\r\n\r\n2,3\r\n\r\n",
}


@pytest.mark.usefixtures("r_available")
@pytest.mark.parametrize("text", EMPTY_LINES.values(), ids=EMPTY_LINES)
def test_empty_lines_in_a_matrix_file_are_skipped_as_r_skips_them(tmp_path, text):
    # they were refused ("row 2 is blank"), though R reads the same matrix without them
    from nnparity.bridge import call

    path = tmp_path / "wh.csv"
    path.write_bytes(text.encode())
    table = call("read.csv", str(path), header=False, colClasses="numeric")
    from_r = np.asarray(call("as.matrix", table), dtype=np.float64)
    assert from_r.tolist() == [[0.5, 1.0], [2.0, 3.0]], f"R reads {text!r} as {from_r}"
    assert cases.read_matrix(path).tolist() == from_r.tolist(), (
        f"R reads {text!r} as the matrix {from_r.tolist()}; nnparity does not"
    )


def test_a_line_of_blanks_is_refused_as_r_reads_it_as_missing_values(tmp_path):
    path = tmp_path / "wh.csv"
    path.write_text("0.5,1\n  \n2,3\n")
    with pytest.raises(CaseError, match=r"row 2"):
        cases.read_matrix(path)


def test_the_first_cell_r_reads_otherwise_is_named_in_the_files_order(tmp_path):
    """Each distinct text is read R's way once (a data set repeats its values): the refusal
    still names the first cell, row by row, whose text R reads as another double, not the
    first such text's first place nor the last."""
    late, early = "0.9842380389989", "0.0172645606779"  # two decimals R misreads
    assert rnumbers.r_strtod(late) != float(late) and rnumbers.r_strtod(early) != float(early)
    path = tmp_path / "X.csv"
    path.write_text(f"0.5,0.5,0.5\n0.5,{late},0.5\n{early},0.5,{late}\n{late},{early},0.5\n")
    with pytest.raises(CaseError) as refused:
        cases.read_matrix(path)
    assert f"row 2, column 2: R's read.csv reads {late} as" in str(refused.value), (
        f"the first cell R misreads is row 2, column 2; the refusal says: {refused.value}"
    )
