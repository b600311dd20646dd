"""Messages: made, edited and deleted the way Discord does it, with its limits enforced.

Interaction responses, followups and channel posts all come through `_new_message` / `_edit_message`,
which apply a payload plus its uploaded files (to the CDN), refuse what Discord refuses (rules.py)
and keep the result in `messages`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .cdn import Cdn
from .objects import Objects
from .rules import message_problems
from .state import RecordedRequest
from .wire import EPHEMERAL, LOADING, SETTABLE_FLAGS, SUPPRESS_EMBEDS, ApiError, form_error, now_iso

if TYPE_CHECKING:
    from .interaction import FakeInteraction

_FILE_FIELD_RE = re.compile(r"^files\[(\d+)\]$")


class Messages(Cdn, Objects):
    def _message_shell(
        self,
        message_id: str,
        channel_id: int,
        flags: int,
        *,
        interaction: FakeInteraction | None,
        msg_type: int = 0,
    ) -> dict:
        message: dict[str, Any] = {
            "id": message_id,
            "channel_id": str(channel_id),
            "author": self._bot_user(),
            "content": "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": msg_type,
            "flags": flags,
        }
        if interaction is not None:
            message["webhook_id"] = str(self.app_id)
            message["application_id"] = str(self.app_id)
            message["interaction_metadata"] = {
                "id": interaction.id,
                "type": interaction.kind,
                "user": self._user(interaction.actor.user_id),
                "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
            }
        return message

    def _new_message(
        self,
        payload: dict,
        rec: RecordedRequest,
        channel_id: int,
        size_limit: int,
        *,
        interaction: FakeInteraction | None = None,
        message_id: str | None = None,
        msg_type: int = 0,
    ) -> dict:
        message_id = message_id or str(self._ids.next())
        shell = self._message_shell(message_id, channel_id, 0, interaction=interaction, msg_type=msg_type)
        message = self._render(shell, payload, rec, size_limit, creating=True)
        self.messages[message_id] = message
        if interaction is not None:
            interaction._own_messages.add(message_id)
        return message

    def _edit_message(self, message_id: str, payload: dict, rec: RecordedRequest, size_limit: int) -> dict:
        base = self.messages[message_id]
        was_loading = bool(base["flags"] & LOADING)
        message = self._render(base, payload, rec, size_limit, creating=False)
        if not was_loading:  # replacing the "thinking…" message does not show as an edit
            message["edited_timestamp"] = now_iso()
        self.messages[message_id] = message
        return message

    def _delete_message(self, message_id: str) -> None:
        self.deleted_messages[message_id] = self.messages.pop(message_id)

    def _render(
        self, base: dict, payload: dict, rec: RecordedRequest, size_limit: int, *, creating: bool
    ) -> dict:
        """Apply a create/edit payload (plus uploaded files) to a message, enforcing Discord's limits."""
        problems = message_problems(payload)
        if problems:
            raise form_error(problems)
        message = dict(base)
        flags = base["flags"] & ~LOADING
        if "flags" in payload and payload["flags"] is not None:
            settable = SETTABLE_FLAGS if creating else SUPPRESS_EMBEDS
            flags = (flags & ~settable) | (payload["flags"] & settable)
        message["flags"] = flags
        message["attachments"] = self._render_attachments(message, payload, rec, size_limit)
        for key in ("content", "components", "embeds"):
            if key in payload:
                message[key] = payload[key] if payload[key] is not None else ([] if key != "content" else "")
        message["embeds"] = [self._render_embed(e, message["attachments"]) for e in message["embeds"]]
        if not (
            message["content"]
            or message["embeds"]
            or message["attachments"]
            or message["components"]
            or payload.get("poll")
            or payload.get("sticker_ids")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        return message

    def _render_attachments(
        self, base: dict, payload: dict, rec: RecordedRequest, size_limit: int
    ) -> list[dict]:
        uploads: dict[int, tuple[str, str | None, bytes]] = {}
        for index, (name, upload) in enumerate(zip(rec.file_fields, rec.files, strict=True)):
            match = _FILE_FIELD_RE.match(name)
            uploads[int(match.group(1)) if match else index] = upload
        for filename, _, data in uploads.values():
            if len(data) > size_limit:
                raise ApiError(
                    413, 40005, f"Request entity too large ({filename}: {len(data)} > {size_limit})"
                )

        # Files of an ephemeral message live under /ephemeral-attachments/ on the CDN.
        where = {"channel_id": int(base["channel_id"]), "ephemeral": bool(base["flags"] & EPHEMERAL)}
        existing = {a["id"]: a for a in base["attachments"]}
        if "attachments" not in payload:
            # No attachment list: keep what the message had and add whatever was uploaded.
            wanted: list[dict] = [{"id": a} for a in existing] + [{"id": i} for i in uploads]
        else:
            wanted = list(payload["attachments"] or [])
        result, used = [], set()
        for position, entry in enumerate(wanted):
            ref = str(entry.get("id"))
            if ref in existing:
                result.append(existing[ref])
            elif ref.isdigit() and int(ref) in uploads:
                filename, content_type, data = uploads[int(ref)]
                extra = {"description": entry["description"]} if entry.get("description") else {}
                # The uploaded part's type is whatever the client said (discord.py: octet-stream);
                # Discord sniffs the real type, so the fake does too.
                sniffed = None if content_type in (None, "application/octet-stream") else content_type
                result.append(self._attachment(entry.get("filename") or filename, data, sniffed, **where, **extra))
                used.add(int(ref))
            else:
                raise form_error([(f"attachments.{position}.id", f"Unknown attachment {ref}")])
        for index, (filename, _, data) in uploads.items():
            if index not in used and "attachments" in payload:
                result.append(self._attachment(filename, data, None, **where))  # uploaded but not listed: kept
        if len(result) > 10:
            raise form_error([("attachments", "Must be 10 or fewer in length.")])
        return result

    @staticmethod
    def _render_embed(embed: dict, attachments: list[dict]) -> dict:
        """Discord stores embeds with type "rich" and resolves attachment://name to the CDN."""
        by_name = {a["filename"]: a for a in attachments}
        out = {"type": "rich", **embed}
        for key in ("image", "thumbnail"):
            url = (out.get(key) or {}).get("url", "")
            if url.startswith("attachment://") and url[len("attachment://") :] in by_name:
                att = by_name[url[len("attachment://") :]]
                out[key] = {
                    "url": att["url"],
                    "proxy_url": att["proxy_url"],
                    "width": att.get("width", 0),
                    "height": att.get("height", 0),
                    "flags": 0,
                }
        return out
