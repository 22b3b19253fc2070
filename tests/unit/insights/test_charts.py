"""The dashboard's chart geometry: round axes, stacked segments that fill the plot proportionally."""

from __future__ import annotations

import pytest

from sync.insights.charts import HEIGHT, MARGIN_BOTTOM, round_top, stacked


@pytest.mark.parametrize(("value", "top"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (499, 500), (501, 1000)])
def test_the_axis_top_is_round(value: int, top: int) -> None:
    assert round_top(value) == top


def test_segments_stack_bottom_up_in_proportion() -> None:
    chart = stacked(["00", "01"], ["tracked", "not tracked"], [[6, 4], [0, 0]])
    assert chart.top == 10
    first, empty = chart.columns
    tracked, not_tracked = first.segments
    bottom = HEIGHT - MARGIN_BOTTOM
    assert tracked.y + tracked.height == pytest.approx(bottom)
    assert not_tracked.y + not_tracked.height == pytest.approx(tracked.y)
    assert tracked.height == pytest.approx(not_tracked.height * 6 / 4, rel=0.01)
    assert first.total == 10 and [s.height for s in empty.segments] == [0, 0]
    assert [v for v, _ in chart.ticks] == [0, 5, 10]


def test_only_every_third_column_is_labelled() -> None:
    chart = stacked([f"{h:02d}" for h in range(6)], ["x"], [[1]] * 6)
    assert [c.label for c in chart.columns] == ["00", "", "", "03", "", ""]
