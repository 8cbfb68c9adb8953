import secrets

from topicserve.redact import redact


def test_tokens_are_removed_everywhere():
    classic = "ghp_" + secrets.token_hex(18)
    fine = "github_pat_" + secrets.token_hex(30)
    text = (
        f"404 Client Error: Not Found for url: https://x-access-token:{classic}@github.com/o/r/archive/abc.zip\n"
        f"token={fine} Authorization: Bearer {secrets.token_hex(16)}"
    )
    out = redact(text)
    assert classic not in out and fine not in out and "Bearer ***" in out
    assert "https://***@github.com/o/r/archive/abc.zip" in out


def test_explicit_secrets_are_removed():
    secret = secrets.token_urlsafe(12)
    assert secret not in redact(f"password was {secret}", [secret])


def test_plain_text_is_untouched():
    text = "https://github.com/o/r/archive/0123456789abcdef0123456789abcdef01234567.zip: 200 OK"
    assert redact(text) == text
