from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from groq_gateway.core.key_format import hash_secret, parse_key
from groq_gateway.core.records import GatewayKey, KeyStatus
from groq_gateway.secret_rotation import (
    MAX_PREVIOUS_SECRETS,
    RetireReason,
    RotationRefusedError,
    deadline_warning_due,
    is_due,
    retirement,
    rotated,
)
from groq_gateway.store.secret_use import SecretUse
from tests.integration.test_store import new_key_with_plaintext

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def key(**fields: object) -> GatewayKey:
    values: dict[str, object] = {
        "grace_period_hours": 24,
        "quiet_period_hours": 6,
        "retire_deadline_hours": 72,
        "deadline_warning_hours": 12,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(fields)
    return new_key_with_plaintext(**values)[0]


def test_rotation_keeps_identity_and_starts_the_old_secrets_grace() -> None:
    original = key(requests_per_minute=5, team_id="chatbot")
    new, minted = rotated(original, NOW)
    parsed = parse_key(minted.plaintext, "ggw")
    assert parsed is not None
    assert parsed.key_id == original.key_id
    assert (new.key_id, new.requests_per_minute, new.team_id) == (original.key_id, 5, "chatbot")
    assert new.version == original.version + 1
    [old] = new.previous_secrets
    assert old.secret_hash == original.secrets[0].secret_hash
    assert (old.retire_after, old.retire_by) == (NOW + 24 * HOUR, NOW + 72 * HOUR)
    current = [s for s in new.secrets if s.is_current]
    assert [s.secret_hash for s in current] == [hash_secret(parsed.key_id, parsed.secret)]
    assert new.display_prefix == minted.display_prefix


def test_a_delivered_key_accepts_its_new_secret_only_once_delivered() -> None:
    new, _ = rotated(key(deliver_to_secret=True), NOW)
    fresh = next(s for s in new.secrets if s.is_current)
    assert not fresh.delivered
    assert not fresh.usable_at(NOW)
    # Rotating again drops the undelivered secret: nobody ever had it.
    again, _ = rotated(new, NOW + HOUR)
    assert fresh.secret_hash not in {s.secret_hash for s in again.secrets}
    assert len(again.previous_secrets) == 1


def test_rotations_are_refused_while_too_many_secrets_are_in_grace() -> None:
    current = key()
    for step in range(MAX_PREVIOUS_SECRETS):
        current, _ = rotated(current, NOW + step * HOUR)
    with pytest.raises(RotationRefusedError) as refused:
        rotated(current, NOW + 5 * HOUR)
    assert refused.value.code == "rotation_pending"
    with pytest.raises(RotationRefusedError):
        rotated(key(status=KeyStatus.REVOKED), NOW)


def test_a_replaced_secret_is_refused_after_its_deadline() -> None:
    new, _ = rotated(key(), NOW)
    [old] = new.previous_secrets
    assert old.usable_at(NOW + 71 * HOUR)
    assert not old.usable_at(NOW + 72 * HOUR)


@pytest.mark.parametrize(
    ("hours_later", "last_used_hours_later", "expected"),
    [
        (23, None, None),  # still in grace
        (25, None, RetireReason.QUIET),  # grace over, never used
        (25, 24, None),  # grace over, used an hour ago (quiet period is 6 h)
        (31, 24, RetireReason.QUIET),  # quiet for 7 hours
        (72, 71, RetireReason.DEADLINE),  # still used at the deadline: retired anyway
    ],
)
def test_retirement_needs_grace_and_quiet_or_the_deadline(
    hours_later: int, last_used_hours_later: int | None, expected: RetireReason | None
) -> None:
    new, _ = rotated(key(), NOW)
    [old] = new.previous_secrets
    use = (
        None
        if last_used_hours_later is None
        else SecretUse(NOW + last_used_hours_later * HOUR, "10.1.2.3", 3)
    )
    assert retirement(new, old, use, NOW + hours_later * HOUR) is expected


def test_the_deadline_warning_goes_out_once_while_the_secret_is_in_use() -> None:
    new, _ = rotated(key(), NOW)
    [old] = new.previous_secrets
    in_use = SecretUse(NOW + 59 * HOUR, "10.1.2.3", 9)
    assert not deadline_warning_due(new, old, in_use, NOW + 59 * HOUR)  # 13 h before
    assert deadline_warning_due(new, old, in_use, NOW + 60 * HOUR)  # 12 h before
    assert not deadline_warning_due(new, old, None, NOW + 60 * HOUR)  # unused: retires anyway
    warned = old.model_copy(update={"deadline_warned": True})
    assert not deadline_warning_due(new, warned, in_use, NOW + 61 * HOUR)


def test_scheduled_rotation_is_due_only_for_delivered_keys() -> None:
    periodic = key(rotation_period_days=30, deliver_to_secret=True)
    assert not is_due(periodic, NOW + timedelta(days=29))
    assert is_due(periodic, NOW + timedelta(days=30))
    assert not is_due(key(rotation_period_days=30), NOW + timedelta(days=31))
    recent = periodic.model_copy(update={"last_rotated_at": NOW + timedelta(days=20)})
    assert not is_due(recent, NOW + timedelta(days=31))
    undelivered, _ = rotated(periodic, NOW)
    assert is_due(undelivered, NOW)
    assert not is_due(
        periodic.model_copy(update={"status": KeyStatus.PAUSED}), NOW + timedelta(days=99)
    )


def test_the_deadline_may_not_be_shorter_than_the_grace() -> None:
    with pytest.raises(ValueError, match="retire_deadline_hours"):
        key(grace_period_hours=48, retire_deadline_hours=24)
