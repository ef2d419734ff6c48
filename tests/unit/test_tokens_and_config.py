from datetime import timedelta

import pytest

from surveys.config import ConfigError, parse_duration, parse_min_group, parse_pool_size
from surveys.tokens import TokenBox, hash_token, looks_like_token, new_token


def test_tokens_carry_256_random_bits_and_are_urlsafe():
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(looks_like_token(t) for t in tokens)
    # 43 base64 characters carry 258 bits; 32 random bytes went in
    assert all(len(t) == 43 for t in tokens)


def test_hash_is_sha256_hex():
    assert hash_token("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")


def test_token_box_round_trip_and_wrong_key():
    token = new_token()
    sealed = TokenBox("one secret").seal(token)
    assert token.encode() not in sealed
    assert TokenBox("one secret").open(sealed) == token
    with pytest.raises(ValueError):
        TokenBox("another secret").open(sealed)


@pytest.mark.parametrize("raw, expected", [
    ("0", timedelta(0)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7)),
    ("90m", timedelta(minutes=90)), ("2w", timedelta(weeks=2)), ("30", timedelta(seconds=30)),
])
def test_durations(raw, expected):
    assert parse_duration("X", raw) == expected


@pytest.mark.parametrize("raw", ["", "soon", "-1h", "1y", "1.5d"])
def test_bad_durations_name_the_variable(raw):
    with pytest.raises(ConfigError, match="AFTERCARE_OPEN_DELAY"):
        parse_duration("AFTERCARE_OPEN_DELAY", raw)


def test_min_group_from_environment():
    assert parse_min_group("7") == 7
    with pytest.raises(ConfigError, match="AFTERCARE_MIN_GROUP.*below 3"):
        parse_min_group("2")
    with pytest.raises(ConfigError, match="whole number"):
        parse_min_group("five")


def test_renamed_settings_are_still_read_under_their_old_names():
    from surveys.config import from_environment

    old = from_environment({"AFTERCARE_MAX_PULSES": "3", "AFTERCARE_PULSE_WINDOW": "14d"})
    assert old == {"AFTERCARE_SURVEY_LIMIT": "3", "AFTERCARE_SURVEY_LIMIT_WINDOW": "14d"}
    both = from_environment({"AFTERCARE_MAX_PULSES": "3", "AFTERCARE_SURVEY_LIMIT": "4"})
    assert both == {"AFTERCARE_SURVEY_LIMIT": "4"}  # the new name wins


def test_pool_size_defaults_to_five_and_names_the_variable_when_bad():
    assert parse_pool_size(None) == 5 and parse_pool_size("") == 5
    assert parse_pool_size("8") == 8
    for bad in ("0", "many", "-3", "101"):
        with pytest.raises(ConfigError, match="AFTERCARE_DB_POOL_SIZE"):
            parse_pool_size(bad)
