"""An offer's id tells which decision it belongs to."""

from __future__ import annotations

import pytest

from service.domain.records import is_offer_of, offer_id


@pytest.mark.parametrize(("candidate", "belongs"), [
    (offer_id("D-1", 2), True), ("D-1.12", True),
    ("D-12.1", False), ("D-1.", False), ("D-1.x", False), ("D-1", False), ("D.1", False),
    ("D-1.1.1", False),
])
def test_an_offer_id_names_its_decision(candidate, belongs):
    assert is_offer_of(candidate, "D-1") is belongs
