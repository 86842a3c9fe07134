from nentang_goodnotes.logic import next_id, note_text


def test_note_text_is_cut_to_the_column() -> None:
    assert note_text("Xin chào", "Xã Một") == "Xin chào, Xã Một"
    assert len(note_text("x" * 300, "y")) == 200


def test_ids_follow_the_largest() -> None:
    assert next_id([]) == 1
    assert next_id([3, 1]) == 4
