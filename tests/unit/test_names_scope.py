"""names.py: the one stack scope/descope (docker/cli's Namespace)."""

from __future__ import annotations

from stackctl.names import descope, in_stack, scope


def test_scope_and_descope_round_trip() -> None:
    assert scope("shop", "web") == "shop_web"
    assert descope("shop", "shop_web") == "web"
    assert descope("shop", "other_web") == "other_web"
    assert descope("shop", "shopweb") == "shopweb"
    assert in_stack("shop", "shop_web.1") and not in_stack("shop", "shopping_web")
