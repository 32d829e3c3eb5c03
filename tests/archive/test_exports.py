"""CSV for Excel: BOM, CRLF, Chinese intact, no formula injection."""

from __future__ import annotations

from archive.exports import cell, to_csv


def test_bom_crlf_and_chinese() -> None:
    data = to_csv([["姓名", "单位"], ["王工", "深圳地铁, 设计院"]])
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig") == '姓名,单位\r\n王工,"深圳地铁, 设计院"\r\n'


def test_cells() -> None:
    assert [cell(v) for v in (None, True, False, 1.5, 2.0, 0.004, 7, "x")] == ["", "1", "0", "1.5", "2", "0", "7", "x"]


def test_formulas_become_text() -> None:
    assert [cell(v) for v in ("=HYPERLINK()", "+1", "-2", "@SUM", "a=b")] == [
        "'=HYPERLINK()",
        "'+1",
        "'-2",
        "'@SUM",
        "a=b",
    ]
    assert cell(-2) == "-2"  # numbers are numbers
