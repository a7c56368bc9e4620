"""The reports' SVG charts (bot/gateway/console/charts.py): well-formed markup, every text escaped, no
style attribute or script, a labelled SVG and a table of the same numbers, and sensible drawings of
zeros, missing values and a single period."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from bot.gateway.console.charts import BOTTOM, HEIGHT, TOP, Series, bar_chart, line_chart, ranking_chart

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script> & \"quoted\""
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM


def parsed(markup) -> ElementTree.Element:
    # Parsing as XML proves it well-formed: an unescaped "<" or "&" in a label would fail here.
    return ElementTree.fromstring(str(markup))


def every_element(root):
    return list(root.iter())


def svg_of(root) -> ElementTree.Element:
    return root.find(f".//{SVG}svg")


def table_cells(root):
    table = root.find(".//table")
    rows = [[cell.text for cell in row] for row in table.iter("tr")]
    return table, rows


def test_every_label_title_and_series_name_is_escaped():
    markup = str(line_chart("chart-x", HOSTILE, [HOSTILE, "b"], [Series(HOSTILE, [1, 2])]))
    assert "<script" not in markup and "&lt;script&gt;" in markup
    root = parsed(markup)
    texts = [element.text for element in every_element(root) if element.text]
    assert HOSTILE in texts  # shown as the words, not run
    for chart in (bar_chart("chart-y", HOSTILE, [HOSTILE], Series(HOSTILE, [3])),
                  ranking_chart("chart-z", HOSTILE, [HOSTILE], Series(HOSTILE, [3]), label_heading=HOSTILE)):
        assert "<script" not in str(chart)
        parsed(chart)


def test_no_style_attribute_script_or_outside_reference():
    for chart in (bar_chart("chart-a", "A", ["1", "2"], Series("s", [1, 2])),
                  line_chart("chart-b", "B", ["1", "2"], [Series("s", [1, None]), Series("t", [0, 2])]),
                  ranking_chart("chart-c", "C", ["x"], Series("s", [4]), label_heading="Intent")):
        elements = every_element(parsed(chart))
        assert not [element for element in elements if "style" in element.attrib]
        names = {element.tag.rsplit("}", 1)[-1] for element in elements}
        assert not names & {"script", "style", "image", "use", "a", "foreignObject"}
        assert "href" not in str(chart) and "url(" not in str(chart)


def test_the_svg_is_labelled_by_its_title_and_the_table_has_caption_and_scoped_headers():
    root = parsed(bar_chart("chart-msgs", "Visitor messages per day", ["2026-03-02", "2026-03-03"],
                            Series("Visitor messages", [4, 0])))
    assert root.tag == "figure" and root.get("aria-labelledby") == "chart-msgs-caption"
    assert root.find("figcaption").get("id") == "chart-msgs-caption"
    svg = svg_of(root)
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "chart-msgs-title"
    title = svg.find(f"{SVG}title")
    assert title.get("id") == "chart-msgs-title" and title.text == "Visitor messages per day"
    table, rows = table_cells(root)
    assert table.find("caption").text == "Visitor messages per day"
    assert [cell.get("scope") for cell in table.find("thead").iter("th")] == ["col", "col"]
    assert [row.find("th").get("scope") for row in table.find("tbody").iter("tr")] == ["row", "row"]
    assert rows == [["Period", "Visitor messages"], ["2026-03-02", "4"], ["2026-03-03", "0"]]


def bars(root):
    return [rect for rect in svg_of(root).iter(f"{SVG}rect")]


def test_bars_are_as_tall_as_their_values_on_a_round_scale():
    root = parsed(bar_chart("chart-h", "H", ["a", "b", "c"], Series("n", [5, 2, 0])))
    heights = [float(rect.get("height")) for rect in bars(root)]
    # Largest 5 is the top of the scale: the full plot height; 2 is two fifths of it.
    assert heights == pytest.approx([PLOT_HEIGHT, PLOT_HEIGHT * 2 / 5, 0])
    tips = [rect.find(f"{SVG}title").text for rect in bars(root)]
    assert tips == ["a: 5", "b: 2", "c: 0"]
    root = parsed(bar_chart("chart-s", "S", ["a", "b"], Series("n", [7, 3])))
    # 7 rounds up to a scale of 10.
    assert [float(rect.get("height")) for rect in bars(root)] == pytest.approx([PLOT_HEIGHT * 0.7, PLOT_HEIGHT * 0.3])


def test_all_zero_data_draws_an_axis_and_flat_bars():
    root = parsed(bar_chart("chart-zero", "Zero", ["a", "b"], Series("n", [0, 0])))
    assert [float(rect.get("height")) for rect in bars(root)] == [0, 0]
    axis_labels = [text.text for text in svg_of(root).iter(f"{SVG}text")]
    # A count axis from 0 to 1 with no fractional tick.
    assert "0" in axis_labels and "1" in axis_labels and "0.5" not in axis_labels


def test_missing_values_draw_nothing_and_say_so_in_the_table():
    root = parsed(line_chart("chart-none", "None", ["a", "b"], [Series("m", [None, None])]))
    svg = svg_of(root)
    assert list(svg.iter(f"{SVG}circle")) == [] and list(svg.iter(f"{SVG}polyline")) == []
    _, rows = table_cells(root)
    assert rows[1:] == [["a", "no data"], ["b", "no data"]]
    gap = parsed(line_chart("chart-gap", "Gap", ["a", "b", "c", "d"], [Series("m", [1, 2, None, 3])]))
    # The gap splits the line: one segment a-b, then a lone dot for d.
    assert len(list(svg_of(gap).iter(f"{SVG}polyline"))) == 1
    assert len(list(svg_of(gap).iter(f"{SVG}circle"))) == 3


def test_a_single_period_still_shows_a_bar_and_a_dot():
    root = parsed(bar_chart("chart-one", "One", ["2026-03-02"], Series("n", [3])))
    assert len(bars(root)) == 1 and float(bars(root)[0].get("height")) > 0
    line = parsed(line_chart("chart-line", "Line", ["2026-03-02"], [Series("a", [3]), Series("b", [1])]))
    assert len(list(svg_of(line).iter(f"{SVG}circle"))) == 2
    assert list(svg_of(line).iter(f"{SVG}polyline")) == []


def test_a_line_chart_has_a_legend_and_a_column_per_series():
    root = parsed(line_chart("chart-l", "Handoffs", ["d1", "d2"], [Series("Requested", [2, 1]),
                                                                   Series("Taken", [1, 0])]))
    legend = [text.text for text in svg_of(root).iter(f"{SVG}text") if text.get("class") == "legend"]
    assert legend == ["Requested", "Taken"]
    _, rows = table_cells(root)
    assert rows == [["Period", "Requested", "Taken"], ["d1", "2", "1"], ["d2", "1", "0"]]
    assert {group.get("class") for group in svg_of(root).iter(f"{SVG}g") if "line" in (group.get("class") or "")} == {
        "line series-0", "line series-1"}


def test_many_periods_get_at_most_eight_axis_labels_and_every_one_in_the_table():
    labels = [f"day-{n}" for n in range(30)]
    root = parsed(bar_chart("chart-many", "Many", labels, Series("n", list(range(30)))))
    shown = [text.text for text in svg_of(root).iter(f"{SVG}text") if (text.text or "").startswith("day-")]
    assert 1 < len(shown) <= 8 and shown[0] == "day-0"
    assert len(table_cells(root)[1]) == 31 and len(bars(root)) == 30


def test_a_ranking_chart_lists_its_categories_and_says_none_when_empty():
    root = parsed(ranking_chart("chart-r", "Top", ["ask_iop", "greet"], Series("Messages", [4, 1]),
                                label_heading="Intent"))
    assert [float(rect.get("width")) for rect in bars(root)][0] > [float(rect.get("width")) for rect in bars(root)][1]
    _, rows = table_cells(root)
    assert rows == [["Intent", "Messages"], ["ask_iop", "4"], ["greet", "1"]]
    empty = parsed(ranking_chart("chart-e", "Top", [], Series("Messages", []), label_heading="Intent"))
    assert "none" in [text.text for text in svg_of(empty).iter(f"{SVG}text")]
    assert len(table_cells(empty)[1]) == 1


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="chart id"):
        bar_chart('x" onload="alert(1)', "T", ["a"], Series("n", [1]))
    with pytest.raises(ValueError, match="values for"):
        bar_chart("chart-a", "T", ["a", "b"], Series("n", [1]))
    with pytest.raises(ValueError, match="negative"):
        line_chart("chart-a", "T", ["a"], [Series("n", [-1])])
    with pytest.raises(ValueError, match="1 to 4 series"):
        line_chart("chart-a", "T", ["a"], [Series(str(n), [1]) for n in range(5)])
