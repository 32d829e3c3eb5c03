"""SVG charts: well-formed, text escaped, readable in both languages, nothing external."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from archive.charts import Series, bar_chart, fit, nice_ticks, text_width, time_chart, time_ticks

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_time_chart_is_well_formed_with_title_legend_and_axis_labels() -> None:
    svg = time_chart(
        "viewers",
        "在线人数",
        [0, 60, 120],
        [(Series("直播", "#0b5cad"), [1, 4, 2])],
        fmt_x=lambda t: f"t{int(t)}",
        step=60,
    )
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == "在线人数"  # type: ignore[union-attr]
    assert root.get("role") == "img" and "style" not in svg
    assert svg.count("http") == 1  # the namespace: nothing is loaded from anywhere
    labels = texts(svg)
    assert "直播" in labels and "t0" in labels and "t180" in labels and "4" in labels
    assert len(root.findall(f"{SVG}polyline")) == 1


def test_columns_and_an_empty_chart() -> None:
    svg = time_chart(
        "q",
        "Questions",
        [0, 60],
        [(Series("asked", "#000"), [2, 0]), (Series("answered", "#111"), [1, 1])],
        fmt_x=str,
        step=60,
        kind="columns",
    )
    assert len(ET.fromstring(svg).findall(f"{SVG}rect")) == 3 + 2  # three bars, two legend keys
    empty = time_chart("e", "Viewers", [], [], fmt_x=str, step=60, empty="No data")
    assert texts(empty) == ["No data"]


def test_user_text_is_escaped() -> None:
    nasty = '<script>alert("x")</script>&'
    svg = bar_chart("t", nasty, [(nasty, [1])], [Series(nasty, "#000")])
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == nasty  # type: ignore[union-attr]
    assert nasty in texts(svg)


def test_bar_chart_side_by_side_and_stacked() -> None:
    rows = [("施工单位", [3, 1]), ("Member of the public / home buyer", [0, 2])]
    two = [Series("live", "#000"), Series("replay", "#111")]
    side = ET.fromstring(bar_chart("a", "A", rows, two))
    assert len(side.findall(f"{SVG}rect")) == 4 + 2
    stacked = bar_chart("b", "B", rows, two, stacked=True)
    assert len(ET.fromstring(stacked).findall(f"{SVG}rect")) == 3 + 2  # zero-width parts are not drawn
    assert "4" in texts(stacked)  # the row total
    assert texts(bar_chart("c", "C", [], two, empty="无数据")) == ["无数据"]


def test_long_labels_are_shortened_to_fit() -> None:
    label = "主管部门 / 质量监督机构（深圳市住房和建设局）"
    short = fit(label, 120)
    assert short.endswith("…") and text_width(short) <= 120
    assert fit("施工单位", 120) == "施工单位"


def test_nice_ticks() -> None:
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(3) == [0, 1, 2, 3]
    assert nice_ticks(17) == [0, 5, 10, 15, 20]
    assert nice_ticks(4800) == [0, 2000, 4000, 6000]


def test_time_ticks_fall_on_round_times() -> None:
    start = 1_788_242_200.0  # 05:56:40 UTC; 1_788_242_400 is 06:00
    ticks = time_ticks(start, start + 3600, 8)
    assert [int(t - 1_788_242_400) for t in ticks] == [0, 600, 1200, 1800, 2400, 3000]  # every 10 minutes
    assert time_ticks(0, 86400 * 30, 5) == [float(t) for t in range(0, 86400 * 31, 86400 * 6)]
