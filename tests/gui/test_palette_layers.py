"""The palette lists the wider layer set under readable category headings."""

from __future__ import annotations

from gui.palette import PalettePanel


def test_new_layers_show_in_their_categories_with_readable_names(qtbot) -> None:
    palette = PalettePanel()
    qtbot.addWidget(palette)
    shown = {type_id: (item.parent().text(0), item.text(0)) for type_id, item in palette.items.items()}
    assert shown["ReLU6"] == ("Activation", "ReLU6")
    assert shown["GroupNorm"] == ("Normalization", "GroupNorm")
    assert shown["Upsample"] == ("Upsampling", "Upsample")
    assert shown["Permute"] == ("Shape", "Permute")
    assert shown["MatMul"] == ("Math", "MatMul")
    assert "learned token" in palette.items["ClassToken"].toolTip(0)
    palette.search_box.setText("hardswish")
    assert not palette.items["Hardswish"].isHidden() and palette.items["ReLU"].isHidden()
