"""Editor: keyboard edits through the real shortcuts, undo/redo, dirty flag, proposals."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from artannot.core.geometry import Box
from artannot.core.model import Region


def _boxes(editor):
    return [r.box for r in editor.annotation().regions]


def test_arrow_keys_nudge_and_clamp(editor_factory):
    editor = editor_factory(regions=[Region(Box(11, 11, 30, 40), "head")])
    canvas = editor.canvas()
    editor.select_indices([0])
    QTest.keyClick(canvas, Qt.Key.Key_Right)
    assert _boxes(editor) == [Box(12, 11, 31, 40)]
    QTest.keyClick(canvas, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert _boxes(editor) == [Box(12, 21, 31, 50)]
    for _ in range(3):
        QTest.keyClick(canvas, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert _boxes(editor) == [Box(1, 21, 20, 50)]  # stopped at the left edge, size kept
    for _ in range(20):
        QTest.keyClick(canvas, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert _boxes(editor) == [Box(1, 121, 20, 150)]  # image is 150 px high
    # consecutive nudges of one selection merge into one undo step
    assert editor.undo_stack().count() == 1
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _boxes(editor) == [Box(11, 11, 30, 40)]
    assert not editor.is_dirty()


def test_duplicate_delete_multi_box_undo_redo(editor_factory):
    regions = [Region(Box(11, 11, 30, 40), "head"), Region(Box(51, 51, 80, 90), "tail", pose="Left",
                                                             element=object())]
    editor = editor_factory(regions=regions)
    canvas = editor.canvas()
    QTest.keyClick(canvas, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select all
    assert editor.selected_indices() == [0, 1]
    QTest.keyClick(canvas, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    ann = editor.annotation()
    assert [r.box for r in ann.regions[2:]] == [Box(21, 21, 40, 50), Box(61, 61, 90, 100)]
    assert [r.phrase for r in ann.regions[2:]] == ["head", "tail"]
    assert ann.regions[3].pose == "Left" and ann.regions[3].element is None  # copies detach
    assert ann.regions[1].element is regions[1].element  # originals keep their element
    assert editor.selected_indices() == [2, 3]
    assert editor.undo_stack().count() == 1  # two boxes, one step
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    assert len(editor.annotation().regions) == 2
    editor.select_indices([0, 1])
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    assert editor.annotation().regions == []
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [r.phrase for r in editor.annotation().regions] == ["head", "tail"]
    assert editor.selected_indices() == [0, 1]  # restored boxes come back selected
    editor.undo_stack().undo()
    editor.undo_stack().undo()
    assert _boxes(editor) == [Box(11, 11, 30, 40), Box(51, 51, 80, 90)]
    assert not editor.is_dirty()
    QTest.keyClick(canvas, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(editor.annotation().regions) == 4


def test_dirty_flag_and_mark_saved(editor_factory, qtbot):
    editor = editor_factory(regions=[Region(Box(11, 11, 30, 40), "head")])
    seen: list[bool] = []
    editor.dirtyChanged.connect(seen.append)
    editor.select_indices([0])
    assert editor.label_selected("head of a cat statuette")
    assert editor.is_dirty() and seen == [True]
    editor.mark_saved()
    assert not editor.is_dirty() and seen == [True, False]
    editor.undo_stack().undo()  # back before the save: dirty again
    assert editor.is_dirty()
    assert editor.annotation().regions[0].phrase == "head"
    editor.undo_stack().redo()
    assert not editor.is_dirty()
    # a new artwork clears history and starts clean
    editor.label_selected("x")
    editor.set_annotation(editor.image_path(), editor.annotation())
    assert not editor.is_dirty() and editor.undo_stack().count() == 0


def test_verify_toggle_with_space(editor_factory):
    editor = editor_factory()
    assert not editor.annotation().verified
    QTest.keyClick(editor.canvas(), Qt.Key.Key_Space)
    assert editor.annotation().verified and editor.is_dirty()
    assert editor.action("verify").isChecked()
    editor.undo_stack().undo()
    assert not editor.annotation().verified and not editor.is_dirty()


def test_paste_regions_clamps_and_is_one_step(editor_factory):
    editor = editor_factory(width=100, height=80)
    requested: list[bool] = []
    editor.pastePreviousRequested.connect(lambda: requested.append(True))
    QTest.keyClick(editor.canvas(), Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert requested == [True]
    prev = [Region(Box(5, 5, 50, 50), "a", element=object()), Region(Box(60, 40, 300, 200), "b")]
    editor.paste_regions(prev)
    ann = editor.annotation()
    assert [r.box for r in ann.regions] == [Box(5, 5, 50, 50), Box(60, 40, 100, 80)]
    assert all(r.element is None for r in ann.regions)
    assert editor.undo_stack().count() == 1


def test_proposals_accept_and_reject(editor_factory):
    proposals = [Region(Box(11.4, 11.6, 30.2, 40.7), "cat", source="detector", score=0.91),
                 Region(Box(51, 51, 80, 90), "dog", source="suggestion", score=0.4)]
    editor = editor_factory(regions=[Region(Box(1, 1, 5, 5), "kept")])
    accepted, rejected = [], []
    editor.proposalsAccepted.connect(accepted.extend)
    editor.proposalsRejected.connect(rejected.extend)
    editor.add_proposals(proposals)
    items = editor.canvas().items_list()
    assert [it.is_proposal() for it in items] == [False, True, True]
    editor.select_indices([1])
    QTest.keyClick(editor.canvas(), Qt.Key.Key_Return)
    r = editor.annotation().regions[1]
    assert r.source == "manual" and r.box == Box(11, 12, 30, 41)  # snapped to whole pixels
    assert not editor.canvas().items_list()[1].is_proposal()
    assert [a.phrase for a in accepted] == ["cat"]
    editor.select_indices([2])
    QTest.keyClick(editor.canvas(), Qt.Key.Key_Delete)
    assert [x.phrase for x in editor.annotation().regions] == ["kept", "cat"]
    assert [x.phrase for x in rejected] == ["dog"]


def test_objects_panel_edits_and_selection_sync(editor_factory):
    editor = editor_factory(regions=[Region(Box(11, 11, 30, 40), "head"),
                                     Region(Box(51, 51, 80, 90), "tail")])
    panel = editor.objects_panel()
    table = panel.table
    assert table.rowCount() == 2 and table.item(1, 0).text() == "tail"
    seen: list[list[int]] = []
    editor.selectionChanged.connect(seen.append)
    table.selectRow(1)
    assert editor.canvas().selected_indices() == [1] and seen[-1] == [1]
    editor.select_indices([0])
    assert panel.selected_indices() == [0]
    table.item(0, 0).setText("head of a statue")  # as the cell editor commits it
    table.item(1, 2).setCheckState(Qt.CheckState.Checked)  # truncated
    ann = editor.annotation()
    assert ann.regions[0].phrase == "head of a statue" and ann.regions[1].truncated
    assert editor.undo_stack().count() == 2
    editor.undo_stack().undo()
    assert not editor.annotation().regions[1].truncated
    assert table.item(1, 2).checkState() == Qt.CheckState.Unchecked


def test_boxes_table_hides_the_proposals_the_canvas_holds_back(editor_factory):
    scores = [0.2, 0.9, 0.5, 0.7]
    editor = editor_factory(regions=[Region(Box(1, 1, 5, 5), "kept")])
    editor.add_proposals([Region(Box(10 + 20 * i, 10, 25 + 20 * i, 30), source="detector", score=s)
                          for i, s in enumerate(scores)])
    panel, table, canvas = editor.objects_panel(), editor.objects_panel().table, editor.canvas()

    def hidden_rows():
        return {r for r in range(table.rowCount()) if table.isRowHidden(r)}

    def hidden_boxes():
        return {it.index for it in canvas.items_list() if not it.isVisible()}

    editor.set_proposal_limit(2)  # what the "proposals shown" slider does
    assert hidden_rows() == hidden_boxes() == {1, 3} == panel.hidden_rows()  # 0.2 and 0.5
    table.selectAll()  # hidden rows refuse selection, as hidden boxes do
    assert panel.selected_indices() == [0, 2, 4] == editor.selected_indices()

    editor.select_indices([2])
    QTest.keyClick(canvas, Qt.Key.Key_Return)  # accepting one brings the next one in
    assert editor.annotation().regions[2].source == "manual"
    assert hidden_rows() == hidden_boxes() == {1}
    editor.undo_stack().undo()
    assert hidden_rows() == hidden_boxes() == {1, 3}
    editor.set_proposal_limit(None)
    assert hidden_rows() == hidden_boxes() == set()
