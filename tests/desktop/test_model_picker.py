"""The closed model picker cuts a long name with an ellipsis where it does not fit, and says
the whole of it in its tooltip."""

from __future__ import annotations

from desktop.chat.model_picker import ModelPicker
from tests.desktop.test_screenshots import model

LONG = "qwen2.5-coder-14b-instruct-abliterated-uncensored"


def test_a_long_name_is_cut_with_an_ellipsis_and_whole_in_the_tooltip(qtbot) -> None:  # type: ignore[no-untyped-def]
    picker = ModelPicker()
    qtbot.addWidget(picker)
    picker.set_models([model(LONG, "Q4_K_M", 9 << 30)], LONG, LONG)
    picker.show()
    picker.resize(160, picker.sizeHint().height())
    qtbot.waitExposed(picker)
    shown = picker.shown_text()
    assert shown.endswith("…") and len(shown) < len(picker.currentText())
    assert picker.currentText() == f"Default ({LONG})"
    assert LONG in picker.toolTip()
    picker.resize(900, picker.sizeHint().height())
    assert picker.shown_text() == picker.currentText()  # room for all of it: nothing cut
    picker.setCurrentIndex(1)
    assert picker.toolTip().endswith(picker.currentText())
