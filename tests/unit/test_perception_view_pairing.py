"""ViewPairer: camera views pair by stamp within the tolerance, in view order; stale or replaced views do not."""

import pytest

from jepa_perception.view_pairing import ViewPairer

MS = 1_000_000


def test_views_within_the_tolerance_pair_in_view_order():
    pairer = ViewPairer(("exterior", "wrist"), tolerance_ns=20 * MS)
    assert pairer.add("wrist", 100 * MS, "w1") == (None, False)
    assert pairer.add("exterior", 110 * MS, "e1") == (["e1", "w1"], False)
    assert pairer.add("exterior", 200 * MS, "e2") == (None, False)  # a new set starts after a pair


def test_views_too_far_apart_wait_for_a_closer_frame_and_replaced_ones_are_reported():
    pairer = ViewPairer(("exterior", "wrist"), tolerance_ns=20 * MS)
    pairer.add("exterior", 0, "e0")
    assert pairer.add("wrist", 50 * MS, "w1") == (None, False)  # 50 ms apart: no pair
    assert pairer.add("exterior", 60 * MS, "e1") == (["e1", "w1"], True)  # e0 was replaced unpaired


def test_one_view_pairs_with_itself_and_bad_settings_are_refused():
    assert ViewPairer(("exterior",), 0).add("exterior", 5, "e") == (["e"], False)
    with pytest.raises(KeyError, match="side"):
        ViewPairer(("exterior",), 0).add("side", 0, "x")
    with pytest.raises(ValueError, match="distinct"):
        ViewPairer(("exterior", "exterior"), 0)
    with pytest.raises(ValueError, match=">= 0"):
        ViewPairer(("exterior",), -1)
