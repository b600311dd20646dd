"""Answering interactions: callbacks (with Discord's 3 s deadline), followups and @original edits.

An interaction's token authenticates its webhook routes until it expires (`FakeInteraction.expire`);
`fail_callbacks` makes Discord fail or refuse the next callbacks.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from .components import modal_problems
from .interaction import FakeInteraction
from .messages import Messages
from .rules import autocomplete_problems
from .state import RECORD, RecordedRequest
from .wire import EPHEMERAL, LOADING, ApiError, Problem, form_error, json_response, no_content

log = logging.getLogger("fake_discord")


class Interactions(Messages):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.callback_deadline: float | None = 3.0  # Discord's limit for the first response; None = off
        # Faults for the next interaction callbacks, in order (see fail_callbacks).
        self.callback_faults: list[tuple[int, int, str, bool]] = []
        # (loop time, message id) of every edit of an interaction's message, for rate checks.
        self.edit_times: list[tuple[float, str]] = []

    def fail_callbacks(self, status: int, *, times: int = 1, code: int = 0, message: str = "Service Unavailable",
                       applied: bool = False) -> None:
        """Answer the next `times` interaction callbacks (any interaction's) with `status`: Discord having
        trouble (5xx) or refusing (10062 Unknown interaction with status 404). `applied=True`: the callback
        still takes effect, as when Discord acted on it and then failed to answer (a retry of it then
        gets 400 40060 "already acknowledged")."""
        self.callback_faults.extend([(status, code, message, applied)] * times)

    def _interaction_for(self, request: web.Request) -> FakeInteraction:
        if int(request.match_info["app_id"]) != self.app_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        fi = self._by_token.get(request.match_info["token"])
        if fi is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        if fi.expired:
            if getattr(fi, "expired_status", 401) == 404:
                raise ApiError(404, 10015, "Unknown Webhook")
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return fi

    async def _callback(self, request: web.Request) -> web.Response:
        fi = self.interactions.get(request.match_info["interaction_id"])
        fault = self.callback_faults.pop(0) if self.callback_faults else None
        if fault is not None and not fault[3]:
            raise ApiError(fault[0], fault[1], fault[2])
        if fi is None or fi.token != request.match_info["token"] or fi.expired:
            raise ApiError(404, 10062, "Unknown interaction")
        if fi.callbacks:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        loop = asyncio.get_running_loop()
        late = loop.time() - fi.created_at
        if self.callback_deadline is not None and late > self.callback_deadline:
            log.warning(
                "fake Discord: %s answered after %.2fs; Discord would have dropped it", fi.label, late
            )
            raise ApiError(404, 10062, "Unknown interaction")

        rec: RecordedRequest = request[RECORD]
        body = rec.json or {}
        ctype = body.get("type")
        data = body.get("data") or {}
        self._check_callback(fi, ctype, data)
        message = self._apply_callback(fi, ctype, data, rec)
        fi.callbacks.append(body)
        fi.callback_at = loop.time()
        fi._callback_event.set()
        if fault is not None:  # acted on, then answered with an error
            raise ApiError(fault[0], fault[1], fault[2])
        return json_response(self._callback_response(fi, ctype, message))

    @staticmethod
    def _check_callback(fi: FakeInteraction, ctype: Any, data: dict) -> None:
        """What Discord refuses in a callback (receiving-and-responding.mdx, components/reference.mdx)."""
        if ctype in (6, 7) and fi.kind != 3:
            raise form_error(
                [("type", "Interaction response type 6/7 is only valid for component interactions")]
            )
        if (ctype == 8) != (fi.kind == 4):
            raise form_error([("type", "An autocomplete interaction takes response type 8, and only it does")])
        problems: list[Problem] = []
        if ctype == 8:
            problems = autocomplete_problems(data, fi.payload["data"])
        if ctype == 9:
            if fi.kind == 5:
                raise form_error([("type", "A form's submission cannot be answered with another form")])
            problems = modal_problems(data)
        if problems:
            raise form_error(problems)

    def _apply_callback(
        self, fi: FakeInteraction, ctype: int, data: dict, rec: RecordedRequest
    ) -> dict | None:
        """Create or update the message a callback implies; returns it (None if there is none)."""
        if ctype == 4:  # CHANNEL_MESSAGE_WITH_SOURCE
            message = self._new_message(
                data,
                rec,
                fi.actor.channel_id,
                fi.actor.attachment_size_limit,
                interaction=fi,
                msg_type=20 if fi.kind == 2 else 0,
            )
            fi.original_id = message["id"]
            return message
        if ctype == 5:  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: the "is thinking…" message
            flags = LOADING | ((data.get("flags") or 0) & EPHEMERAL)
            message = self._message_shell(
                str(self._ids.next()),
                fi.actor.channel_id,
                flags,
                interaction=fi,
                msg_type=20 if fi.kind == 2 else 0,
            )
            self.messages[message["id"]] = message
            fi._own_messages.add(message["id"])
            fi.original_id = message["id"]
            fi._placeholder_pending = True
            return None
        if ctype == 6:  # DEFERRED_UPDATE_MESSAGE: @original becomes the clicked message
            fi.original_id = fi.message_id
            return None
        if ctype == 7:  # UPDATE_MESSAGE
            assert fi.message_id is not None
            message = self._edit_message(fi.message_id, data, rec, fi.actor.attachment_size_limit)
            fi.original_id = fi.message_id
            return message
        return None  # 1 pong, 8 autocomplete, 9 modal, ...: recorded only

    def _callback_response(self, fi: FakeInteraction, ctype: int, message: dict | None) -> dict:
        # discord.py reads interaction.{id, response_message_id, response_message_loading,
        # response_message_ephemeral} and resource.{type, message}; a 204 makes it KeyError.
        original = fi.original
        interaction: dict[str, Any] = {
            "id": fi.id,
            "type": fi.kind,
            "activity_instance_id": None,
            "response_message_loading": ctype == 5,
            "response_message_ephemeral": bool(original and original["flags"] & EPHEMERAL),
        }
        if original is not None:
            interaction["response_message_id"] = original["id"]
        resource: dict[str, Any] = {"type": ctype}
        if message is not None:
            resource["message"] = message
        return {"interaction": interaction, "resource": resource}

    async def _webhook_execute(self, request: web.Request) -> web.Response:
        fi = self._interaction_for(request)
        if not fi.callbacks:
            raise ApiError(
                404, 10015, "Unknown Webhook"
            )  # no followups before the interaction is acknowledged
        rec: RecordedRequest = request[RECORD]
        payload = rec.json or {}
        limit = fi.actor.attachment_size_limit
        if fi._placeholder_pending and fi.original_id in self.messages:
            # The first followup after a deferred response replaces the "thinking…" message: same id,
            # and the defer's ephemeral choice wins over the followup's.
            placeholder = self.messages[fi.original_id]  # type: ignore[index]
            payload_flags = (payload.get("flags") or 0) & ~EPHEMERAL
            message = self._new_message(
                {**payload, "flags": payload_flags | (placeholder["flags"] & EPHEMERAL)},
                rec,
                fi.actor.channel_id,
                limit,
                interaction=fi,
                message_id=placeholder["id"],
                msg_type=placeholder["type"],
            )
            fi._placeholder_pending = False
        else:
            message = self._new_message(payload, rec, fi.actor.channel_id, limit, interaction=fi)
        fi.followups.append({**message, "_files": rec.files, "_payload": payload})
        fi._set_answer(message, rec.files, payload)
        if request.query.get("wait") in ("0", "false", "False"):
            return no_content()
        return json_response(message)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        fi = self._interaction_for(request)
        target = request.match_info["message_id"]
        message_id = fi.original_id if target == "@original" else target
        if (
            message_id is None
            or message_id not in self.messages
            or (target != "@original" and message_id not in fi._own_messages and message_id != fi.original_id)
        ):
            raise ApiError(404, 10008, "Unknown Message")
        if request.method == "GET":
            return json_response(self._fresh_links(self.messages[message_id]))
        if request.method == "DELETE":
            self._delete_message(message_id)
            if message_id == fi.original_id:
                fi._placeholder_pending = False  # a followup after this is a new message
            return no_content()
        if request.method != "PATCH":
            raise ApiError(405, 0, "405: Method Not Allowed")
        rec: RecordedRequest = request[RECORD]
        payload = rec.json or {}
        if message_id == fi.original_id:
            fi._placeholder_pending = False
        message = self._edit_message(message_id, payload, rec, fi.actor.attachment_size_limit)
        if target == "@original" or message_id == fi.original_id:
            at = asyncio.get_running_loop().time()
            self.edit_times.append((at, message_id))
            fi.edits.append({**payload, "_files": rec.files, "_message": message, "_at": at})
            if payload.get("content") or payload.get("embeds") or rec.files:
                fi._set_answer(message, rec.files, payload)
        return json_response(message)
