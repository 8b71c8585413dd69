"""Numbers are shared by extensions and the dial plan: one owner each."""
from __future__ import annotations

import pytest


def test_an_extension_cannot_take_a_number_the_dial_plan_uses(tmp_path) -> None:
    from pbx.errors import Conflict
    from pbx.services import open_services

    services = open_services(tmp_path)
    services.dialplan.save("ringgroup", {"id": "sales", "number": "600", "members": ["*"]})
    with pytest.raises(Conflict) as refused:
        services.extensions.add("600", "Sales desk", "quiet-Harbor-77")
    assert "ringgroup:sales" in refused.value.message and refused.value.details == {"field": "number"}
    assert services.extensions.get("600") is None
    services.extensions.add("601", "Sales desk", "quiet-Harbor-77")  # a free number is fine
    services.close()
