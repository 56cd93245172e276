"""Credentials are recognised and masked in the text the core shows: URL userinfo,
authorization and api-key headers, bearer tokens, and known secret values."""

from __future__ import annotations

import logging

import pytest

from ttc.secrets import (
    MaskingFilter,
    SecretMask,
    environment_secrets,
    mask_credentials,
    secrets_in,
)


@pytest.mark.parametrize(("text", "masked"), [
    ("POST http://user:pass@127.0.0.1:9/generate failed",
     "POST http://***@127.0.0.1:9/generate failed"),
    ("https://ghp_token123@github.com/o/r.git", "https://***@github.com/o/r.git"),
    ("at http://u:p@ss@host/x and a@b", "at http://***@host/x and a@b"),
    ("Authorization: Bearer sk-live-0123456789", "Authorization: Bearer ***"),
    ('{"authorization": "Basic dXNlcjpwYXNz"}', '{"authorization": "Basic ***"}'),
    ("x-api-key: abc123", "x-api-key: ***"),
    ("OPENAI_API_KEY=sk-1", "OPENAI_API_KEY=***"),
    ("Incorrect API key provided: sk-proj-abc123.", "Incorrect API key provided: ***"),
    ("sent Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "sent Bearer ***"),
])
def test_credential_patterns_are_masked(text: str, masked: str) -> None:
    assert mask_credentials(text) == masked


@pytest.mark.parametrize("text", [
    "http://127.0.0.1:30000/v1", "mailto:someone@example.com", "Basic arithmetic: 2+2=4",
    "unknown key 'api_key' in model 'm'", "max_tokens: 512", "Bearer bonds are paper",
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_credentials(text) == text


def test_secrets_are_collected_from_keys_urls_and_bearer_headers() -> None:
    data = {"models": {"m": {"options": {
        "base_url": "http://user:url-pass-0123@host/v1",
        "api_key": "sk-live-0123456789",
        "headers": {"Authorization": "Bearer tok-0123456789"},
    }}}, "max_tokens": 512}
    found = secrets_in(data)
    assert {"user:url-pass-0123", "url-pass-0123", "sk-live-0123456789",
            "Bearer tok-0123456789", "tok-0123456789"} <= set(found)
    assert "512" not in found


def test_a_known_secret_is_scrubbed_wherever_a_server_echoes_it() -> None:
    mask = SecretMask.for_data({"options": {"base_url": "http://svc:hunter2-hunter2@h"}},
                               environment=False)
    assert mask.text("denied for svc:hunter2-hunter2 (hunter2-hunter2)") == "denied for *** (***)"
    assert SecretMask(["short"]).secrets == []  # too short to scrub by value


def test_environment_urls_with_credentials_are_secrets() -> None:
    env = {"OPENAI_BASE_URL": "https://me:env-pass-0123@proxy/v1", "HF_TOKEN": "hf_abcdefgh",
           "HOME": "/root"}
    assert set(environment_secrets(env)) == {"me:env-pass-0123", "env-pass-0123",
                                              "hf_abcdefgh"}


def test_the_log_filter_masks_formatted_records() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "%s failed: %s", (
        "POST", "http://u:secret-pass@h/generate"), None)
    assert MaskingFilter(SecretMask()).filter(record)
    assert record.getMessage() == "POST failed: http://***@h/generate"
