"""The staff aggregate's rules, as given events, when command, then events (no database)."""

from __future__ import annotations

import pytest

from common.refusal import Refusal
from staff.domain import CountyStaff
from staff.events import AccountDeactivated, RoleGranted, RoleGrantRequested


def staff(*events: object) -> CountyStaff:
    state = CountyStaff()
    for event in events:
        state.apply(event)  # type: ignore[arg-type]
    return state


REQUESTED = RoleGrantRequested(grant_id="g1", username="li", role="teller", requested_by="wang")


def refused_code(call: object) -> str:
    with pytest.raises(Refusal) as refused:
        call()  # type: ignore[operator]
    return refused.value.code


def test_a_privileged_role_waits_for_a_second_person() -> None:
    assert staff().grant(grant_id="g1", username="li", role="teller", by="wang", direct=False) == [REQUESTED]


def test_neither_the_requester_nor_the_grantee_can_confirm() -> None:
    state = staff(REQUESTED)
    assert refused_code(lambda: state.confirm(grant_id="g1", by="wang", direct=False)) == "own_grant"
    assert refused_code(lambda: state.confirm(grant_id="g1", by="li", direct=False)) == "own_grant"
    assert state.confirm(grant_id="g1", by="zhao", direct=False) == [
        RoleGranted(grant_id="g1", username="li", role="teller", requested_by="wang", confirmed_by="zhao")]


def test_the_platform_grants_directly_and_says_so() -> None:
    assert staff().grant(grant_id="g2", username="li", role="county_admin", by="platform:demo", direct=True) == [
        RoleGranted(grant_id="g2", username="li", role="county_admin", requested_by="platform:demo",
                    confirmed_by="platform:demo")]


def test_an_observer_needs_no_second_person_and_unknown_roles_are_refused() -> None:
    assert staff().grant(grant_id="g3", username="li", role="observer", by="wang", direct=False) == [
        RoleGranted(grant_id="g3", username="li", role="observer", requested_by="wang", confirmed_by=None)]
    assert refused_code(lambda: staff().grant(grant_id="g4", username="li", role="operator", by="wang",
                                              direct=False)) == "unknown_role"


def test_a_decided_or_lapsed_grant_cannot_be_confirmed() -> None:
    confirmed = staff(REQUESTED, RoleGranted(grant_id="g1", username="li", role="teller", requested_by="wang",
                                             confirmed_by="zhao"))
    assert refused_code(lambda: confirmed.confirm(grant_id="g1", by="zhao", direct=False)) == "grant_decided"
    lapsed = staff(REQUESTED, AccountDeactivated(username="li", deactivated_by="zhao"))
    assert refused_code(lambda: lapsed.confirm(grant_id="g1", by="zhao", direct=False)) == "unknown_grant"
    assert refused_code(lambda: lapsed.grant(grant_id="g5", username="li", role="host", by="zhao",
                                             direct=False)) == "account_inactive"
