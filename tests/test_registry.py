"""The one registry type behind every extension point."""

from __future__ import annotations

import pytest

from simlib.engine import ACTORS
from simlib.errors import UnknownNameError, UserInputError
from simlib.model.offers import OFFER_KINDS
from simlib.registry import Registry
from simlib.tiers import COVERAGE_POLICIES


def test_add_look_up_and_iterate_in_registration_order() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("b", 2)
    reg.register("a")(1)
    assert list(reg) == ["b", "a"] and reg["a"] == 1 and len(reg) == 2


def test_a_taken_name_is_refused_unless_replaced_on_purpose() -> None:
    reg: Registry[object] = Registry("widget")
    first, second = object(), object()
    reg.add("x", first)
    reg.add("x", first)  # the same object again: harmless (a module imported twice)
    with pytest.raises(ValueError, match="registered already"):
        reg.add("x", second)
    reg.replace("x", second)
    assert reg["x"] is second


def test_unknown_name_suggests_and_lists_and_is_a_user_error() -> None:
    reg: Registry[int] = Registry("coverage policy")
    reg.add("tiered_by_arr", 1)
    reg.add("none", 0)
    with pytest.raises(UnknownNameError) as info:
        reg["tiered_by_ar"]
    message = str(info.value)
    assert "unknown coverage policy 'tiered_by_ar'" in message
    assert "did you mean 'tiered_by_arr'" in message
    assert "allowed: none, tiered_by_arr" in message
    assert isinstance(info.value, UserInputError) and isinstance(info.value, KeyError)
    assert info.value.exit_code == 2


def test_every_extension_point_uses_the_registry_type() -> None:
    for reg in (ACTORS, COVERAGE_POLICIES, OFFER_KINDS):
        assert isinstance(reg, Registry)
    assert {"renewal", "billing"} & set(ACTORS)
    assert "tiered_by_arr" in COVERAGE_POLICIES and "upsell" in OFFER_KINDS


def test_mechanism_state_is_declared_by_its_mechanism() -> None:
    from simlib.account import _CORE_COLUMNS, BOOK_COLUMNS, AccountBook, register_column

    assert "champion_lost" not in _CORE_COLUMNS
    assert "champion_lost" in BOOK_COLUMNS  # declared by simlib/model/champion.py
    assert "champion_lost" in AccountBook(capacity=4).columns
    register_column("champion_lost", BOOK_COLUMNS["champion_lost"][0], False)  # again: harmless
    with pytest.raises(ValueError, match="core column"):
        register_column("mrr", float, 0.0)
