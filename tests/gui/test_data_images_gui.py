"""Image data sets from the window: the typed image options, the feeding mode and its reason, an image list
chosen with a file chooser, and the Augmentation section whose edits are undoable and whose grid of
augmented samples follows them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import graph
from graph import NetworkBuilder
from gui.main_window import MainWindow
from gui.training import prompts
from gui.training.panel import TrainingPanel

Image = pytest.importorskip("PIL.Image")


def _images(root: Path, per_class: int = 5) -> Path:
    """Two classes of 12×16 RGB pictures with a bright bar on the left, so flips and noise show."""
    rng = np.random.default_rng(0)
    for name, base in (("cats", 60), ("dogs", 190)):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(base + rng.integers(-25, 25, (12, 16, 3)), 0, 255).astype(np.uint8)
            pixels[:, :4] = 255
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.fixture
def images_panel(window: MainWindow, tmp_path: Path) -> TrainingPanel:
    _images(tmp_path / "pics")
    b = NetworkBuilder()
    x = b.input((1, 8, 8), name="image")
    h = b.chain(x, "Flatten", ("Dense", {"units": 2}))
    b.output(h, name="logits")
    project = b.project("Pictures", {"dataset": {"kind": "image_folder", "path": "pics",
                                                 "options": {"size": 8}}})
    path = tmp_path / "pictures.dcproj"
    graph.save_project(project, path)
    assert window.files.open_path(path, ask_to_save=False)
    window.show_training()
    panel = window.training
    panel.ensure_built()
    return panel


def _wait_loaded(qtbot, panel: TrainingPanel) -> None:
    picker = panel.picker
    qtbot.waitUntil(lambda: picker.ready and (picker.dataset is not None or bool(picker.error)), timeout=30_000)
    assert not picker.error, picker.error


def _wait_grid(qtbot, panel: TrainingPanel) -> np.ndarray:
    section = panel.picker.augment
    qtbot.waitUntil(lambda: not section.busy and (section.grid is not None or bool(section.grid_error)),
                    timeout=30_000)
    assert section.grid is not None, section.grid_error
    return section.grid.copy()


def dataset_options(window: MainWindow) -> dict:
    return dict(window.project.settings["dataset"].get("options") or {})


def test_image_options_feeding_mode_and_undoable_augmentation_grid(qtbot, window: MainWindow,
                                                                   images_panel: TrainingPanel) -> None:
    picker = images_panel.picker
    _wait_loaded(qtbot, images_panel)
    # the feeding mode and why, under the summary
    assert picker.feeding.isVisibleTo(picker)
    assert "Feeding: <b>memory</b>" in picker.feeding.text() and "fits the memory budget" in picker.feeding.text()
    # typed editors for the image options, not text fields
    box = picker.image_box
    assert box.isVisibleTo(picker) and "size" not in picker.option_edits and "augment" not in picker.option_edits
    assert box.editors["size"].value() == [8, 8]
    assert not box.form.isRowVisible(box.editors["path_column"])       # an image-list option
    channels = box.editors["channels"]
    assert channels.currentData() == 1
    channels.setCurrentIndex(channels.findData(3))
    channels.activated.emit(channels.currentIndex())
    assert dataset_options(window) == {"size": 8, "channels": 3}
    _wait_loaded(qtbot, images_panel)
    assert tuple(picker.dataset.input_shape) == (3, 8, 8)

    # the Augmentation section: editors from the engine's specs; the grid follows the saved options
    section = picker.augment
    assert section.isVisibleTo(picker) and not section.body.isVisibleTo(picker)
    assert {"crop_scale", "hflip", "rotation", "erasing", "noise", "mixup", "cutmix"} <= set(section.editors)
    section.toggle.click()
    assert section.body.isVisibleTo(picker)
    plain = _wait_grid(qtbot, images_panel)
    assert plain.shape == (3 * 8 + 2 * 2, 4 * 8 + 3 * 2, 3)
    assert np.array_equal(plain[:8], plain[10:18])             # nothing on yet: every row as loaded
    assert section.picture.pixmap().width() >= plain.shape[1]   # drawn, scaled up for small images

    section.editors["noise"].field.setValue(0.3)
    assert dataset_options(window)["augment"] == {"noise": 0.3}
    assert section.busy                                         # debounced, computed in the background
    noisy = _wait_grid(qtbot, images_panel)
    assert not np.array_equal(noisy[10:18], plain[10:18]) and np.array_equal(noisy[:8], plain[:8])
    assert section.state_text == "gaussian noise"

    # undo restores the option, the editor and the grid
    assert window.session.undo_stack.undoText() == "Set augmentation gaussian noise"
    window.session.undo_stack.undo()
    assert "augment" not in dataset_options(window)
    assert section.editors["noise"].field.value() == 0.0 and section.state_text == "off"
    again = _wait_grid(qtbot, images_panel)
    assert np.array_equal(again, plain)
    window.session.undo_stack.redo()
    assert dataset_options(window)["augment"] == {"noise": 0.3}

    # augmentations add up in the one 'augment' option
    section.editors["hflip"].field.setChecked(True)
    assert dataset_options(window)["augment"] == {"noise": 0.3, "hflip": True}


def test_image_list_is_chosen_with_a_file_chooser(qtbot, window: MainWindow, images_panel: TrainingPanel,
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    picker = images_panel.picker
    _wait_loaded(qtbot, images_panel)
    rows = ["file,animal"] + [f"pics/{c}/{i}.png,{c[:-1]}" for c in ("cats", "dogs") for i in range(5)]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    asked: list[str] = []

    def choose(parent, directory, filters):
        asked.append(filters)
        return tmp_path / "list.csv"

    monkeypatch.setattr(prompts, "choose_data_file", choose)
    index = picker.kind_combo.findData("image_list")
    assert index >= 0
    picker.kind_combo.setCurrentIndex(index)
    picker.kind_combo.activated.emit(index)
    assert window.project.settings["dataset"]["kind"] == "image_list"
    picker.browse.click()
    assert asked and "*.csv" in asked[0] and "*.json" in asked[0]
    assert window.project.settings["dataset"]["path"] == "list.csv"      # relative to the project
    _wait_loaded(qtbot, images_panel)
    assert picker.dataset.class_names == ["cat", "dog"]
    box = picker.image_box
    assert box.form.isRowVisible(box.editors["path_column"]) and box.form.isRowVisible(box.editors["task"])
    # a typed choice: the resize policy
    resize = box.editors["resize"].field
    resize.setCurrentText("pad")
    resize.activated.emit(resize.currentIndex())
    assert dataset_options(window) == {"resize": "pad"}
    window.session.undo_stack.undo()
    assert dataset_options(window) == {}
    assert resize.currentText() == "stretch"
