"""Outside text made safe: secrets gone even when split by invisible characters, length capped."""

from __future__ import annotations

from bot.core.redact import REDACTED, Redactor

KEY = "pixazo-secret-key-4f1e9c"
TOKEN = "MTAwMA.fake-discord-token.do-not-leak-0123456789"


def test_a_secret_split_by_a_zero_width_character_is_still_removed():
    redactor = Redactor([KEY, TOKEN])
    hidden = KEY[:6] + "\u200b" + KEY[6:]
    shown = redactor.external(f"invalid key {hidden} for {TOKEN}")
    assert KEY not in shown and TOKEN not in shown
    assert shown.count(REDACTED) == 2


def test_outside_text_becomes_one_capped_line():
    shown = Redactor([KEY]).external("line one\nline\ttwo\x00" + "x" * 500, limit=40)
    assert "\n" not in shown and "\x00" not in shown and len(shown) == 40 and shown.endswith("…")


def test_interaction_tokens_in_discord_urls_are_removed():
    token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQtdG9rZW4tdmFsdWU"
    text = (f"POST https://discord.com/api/v10/webhooks/1000/{token}?wait=1 has returned 200; "
            f"POST /interactions/55501/{token}/callback")
    shown = Redactor([]).redact(text)
    assert token not in shown
    assert "/webhooks/1000/[redacted]?wait=1" in shown and "/interactions/55501/[redacted]/callback" in shown


def test_the_token_field_of_a_logged_gateway_event_is_removed():
    token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQtdG9rZW4tdmFsdWU"
    event = str({"t": "INTERACTION_CREATE", "d": {"id": "1", "token": token, "type": 2}})
    shown = Redactor([]).redact(event + f' {{"token": "{token}"}}')
    assert token not in shown and shown.count("[redacted]") == 2
