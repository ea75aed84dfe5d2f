"""Earlier reviews' leftovers in the explorer (stop 22): error messages that pointed a user of
the window to a command ('lrp rules'); a dataset opened (a folder of photographs listed) on the
GUI thread."""

from __future__ import annotations

import threading


def test_a_rule_error_points_to_the_rule_panel_not_the_command_line(make_window,
                                                                    dialogs_shown):
    """A rule the engine does not know, typed into the per-layer rules table, said 'choose
    one of … or a preset (see 'lrp rules')': a command, where the explorer's rule list is."""
    window = make_window()
    table = window.rules.layer_table
    table.item(0, 3).setText("nosuchrule")
    assert dialogs_shown, window.errors
    title, text = dialogs_shown[-1]
    assert "unknown rule 'nosuchrule'" in text and "lrp rules" not in text
    assert "the rule list of the Explanation panel" in text
    assert "lrp rules" not in window.state.status


def test_a_tool_window_says_it_the_explorers_way_too(make_window, qtbot):
    window = make_window()
    panel = window.insight.show("sanity")
    panel.rule_edit.setText("nosuchrule")
    with qtbot.waitSignal(panel.failed, timeout=20000) as failed:
        panel.refresh()
    assert "unknown rule 'nosuchrule'" in failed.args[0] and "lrp rules" not in failed.args[0]
    assert "the rule list of the Explanation panel" in panel.last_error


def test_every_command_line_pointer_has_the_explorers_words():
    from lrpgui.wording import gui_message

    assert gui_message("x (see 'lrp rules')") == ("x (the rule list of the Explanation panel; "
                                                  "each rule's tooltip gives its formula)")
    assert gui_message("no node is named or matches 'q*' ('lrp info MODEL' lists the layer "
                       "names)").endswith("(the per-layer rules table of the Explanation "
                                          "panel lists them)")
    text = gui_message("mnist-train: MNIST train files are not downloaded yet (missing a.gz); "
                       "run 'lrp data download --kind train' or "
                       "lrpcore.io.datasets.download_mnist('train')")
    assert text.endswith("(missing a.gz); download them with “Download MNIST…” (File menu, or "
                         "the Browser)")


def test_a_dataset_is_read_off_the_gui_thread_which_keeps_serving_events(make_window, qtbot,
                                                                         monkeypatch, toy_files):
    """Opening a folder of 2,000 photographs held the GUI thread 0.1–0.4 s (its listing, its
    first image, 200 headers for the depth note). The reading now runs on a worker: here it
    waits for an event that only the GUI thread can deliver (a timer), which it could never
    deliver while it read the folder itself."""
    from PySide6.QtCore import QTimer

    import lrpgui.sources

    window = make_window()
    real = lrpgui.sources.open_dataset
    served, readers = threading.Event(), []

    def read_after_an_event(name):
        readers.append(threading.current_thread())
        if not served.wait(20):
            raise AssertionError("the GUI thread served no event while the data was read")
        return real(name)

    monkeypatch.setattr(lrpgui.sources, "open_dataset", read_after_an_event)
    QTimer.singleShot(0, served.set)
    window.state.dataset = None
    assert window.open_dataset(str(toy_files[1])) is True
    assert readers and readers[0] is not threading.main_thread()
    assert window.state.dataset is not None and window.state.sample_index == 0
    qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=20000)


def test_an_open_superseded_while_reading_leaves_the_later_one(make_window, monkeypatch,
                                                               toy_files, tmp_path):
    """A second dataset asked for while the first is read (a menu choice the GUI thread
    serves meanwhile) is the one opened; the first returns unopened. Closing the window
    during a read ends it unopened. (Each read waits for the GUI thread's next step.)"""
    import numpy as np
    from PySide6.QtCore import QTimer

    import lrpgui.sources

    window = make_window()
    other = tmp_path / "other.npy"
    np.save(other, np.load(toy_files[1])[:5])
    real, results, step = lrpgui.sources.open_dataset, [], threading.Event()

    def read_after_the_next_step(name):
        if name != str(other):
            assert step.wait(20), "the GUI thread served no event while the data was read"
        return real(name)

    monkeypatch.setattr(lrpgui.sources, "open_dataset", read_after_the_next_step)
    QTimer.singleShot(0, lambda: (step.set(), results.append(window.open_dataset(str(other)))))
    assert window.open_dataset(str(toy_files[1])) is False
    assert results == [True] and window.state.dataset_name.endswith("other.npy")
    assert len(window.state.dataset) == 5
    step.clear()
    QTimer.singleShot(0, lambda: (step.set(), window.close()))
    assert window.open_dataset(str(toy_files[1])) is False
    assert len(window.state.dataset) == 5
