"""Forms (modals): submitting the one the bot opened, or any a hostile client makes up.

`submit_modal` fills in the form a type 9 callback opened, as a member does in Discord's client: text
inputs, string selects and file uploads, found by the label the member sees (or the custom_id), held to
what the client lets through (required inputs, lengths, how many values, the offered options, file
types, the upload size limit) unless `validate=False`. Uploaded files go on the CDN as ephemeral
attachments and arrive in `data.resolved.attachments`. The rules and shapes are in components.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .components import answer, choice_problem, file_type_problem, inputs, prefilled, with_ids
from .driver import FIRST_GUILD, Driver
from .interaction import FakeInteraction
from .state import Actor
from .wire import DEFAULT_MEMBER_PERMISSIONS, DEFAULT_UPLOAD_LIMIT

# Files for an upload: (filename, bytes) or (filename, bytes, content type), one tuple per file.
Upload = tuple[str, bytes] | tuple[str, bytes, str]
_NOT_MODELLED = {5: "user select", 6: "role select", 7: "mentionable select", 8: "channel select",
                 21: "radio group", 22: "checkbox group", 23: "checkbox"}


class Forms(Driver):
    async def submit_form(
        self,
        custom_id: str,
        values: Mapping[str, str | Sequence[str]],
        *,
        files: Mapping[str, Sequence[Upload]] | None = None,
        labels: bool = False,
        user_id: int = 4000,
        username: str = "alice",
        guild_id: int | None = FIRST_GUILD,
        channel_id: int | None = None,
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
        locale: str = "en-US",
        **where: Any,
    ) -> FakeInteraction:
        """Submit a form (modal) the bot never opened for this member, as a hostile client can: any
        custom_id, `values` (input custom_id -> text for a text input, a list for a string select) and
        `files` (file upload custom_id -> files). Text inputs come in Action Rows (the older form) unless
        `labels`; selects and uploads always in Labels. `where`: as for `invoke` (dm=, user_install=...)."""
        actor = self._actor(user_id=user_id, username=username, guild_id=guild_id, channel_id=channel_id, roles=(),
                            permissions=permissions, locale=locale, attachment_size_limit=DEFAULT_UPLOAD_LIMIT,
                            **where)
        components: list[dict] = []
        for key, value in values.items():
            if isinstance(value, str):
                text = {"type": 4, "custom_id": key, "value": value}
                components.append({"type": 18, "component": text} if labels else {"type": 1, "components": [text]})
            else:
                components.append({"type": 18, "component": {"type": 3, "custom_id": key, "values": list(value)}})
        resolved: dict[str, dict] = {}
        for key, uploads in (files or {}).items():
            attachments = [self._form_upload(upload, actor) for upload in uploads]
            resolved.update({a["id"]: a for a in attachments})
            components.append({"type": 18, "component": {"type": 19, "custom_id": key,
                                                         "values": [a["id"] for a in attachments]}})
        data: dict[str, Any] = {"custom_id": custom_id, "components": with_ids(components)}
        if resolved:
            data["resolved"] = {"attachments": resolved}
        return await self._inject(actor, 5, data, f"modal {custom_id}")

    async def submit_modal(
        self,
        opened_by: FakeInteraction,
        values: Mapping[str, str | Sequence[str]] | None = None,
        *,
        files: Mapping[str, Sequence[Upload]] | None = None,
        user_id: int | None = None,
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
        validate: bool = True,
    ) -> FakeInteraction:
        """Submit the modal `opened_by` was answered with (callback type 9). `values` maps an input's label
        (or custom_id) to its text, or to the chosen option values of a select; inputs not named keep what
        they showed (prefilled text, default options). `files` maps a file upload's label (or custom_id) to
        the files uploaded. `validate=False` sends what Discord's client would not let through."""
        modal = self._opened_modal(opened_by)
        components = with_ids(modal.get("components") or [])
        actor = opened_by.actor
        if user_id is not None or permissions != actor.permissions:
            actor = self._actor(
                user_id=actor.user_id if user_id is None else user_id, username=actor.username,
                guild_id=actor.guild_id, channel_id=actor.channel_id, roles=actor.roles, permissions=permissions,
                locale=actor.locale, attachment_size_limit=actor.attachment_size_limit, context=actor.context,
                user_install=actor.user_install,
            )
        chosen, resolved = self._fill(components, dict(values or {}), dict(files or {}), actor, validate)
        data: dict[str, Any] = {"custom_id": modal["custom_id"], "components": answer(components, chosen)}
        if resolved:
            data["resolved"] = {"attachments": resolved}
        message = self.messages.get(opened_by.message_id or "")  # a form opened by a click: that message
        return await self._inject(actor, 5, data, f"modal {modal['custom_id']}",
                                  message=self._fresh_links(message) if message else None,
                                  owners=opened_by.payload["authorizing_integration_owners"])

    def modal_values(self, opened_by: FakeInteraction) -> dict[str, Any]:
        """Label -> what each input of the modal `opened_by` was answered with shows before the member types:
        the prefilled text of a text input, the default options of a select."""
        components = self._opened_modal(opened_by).get("components") or []
        return {label or component.get("custom_id"): prefilled(component) for label, component in inputs(components)}

    @staticmethod
    def _opened_modal(opened_by: FakeInteraction) -> dict:
        modals = [c for c in opened_by.callbacks if c.get("type") == 9]
        if not modals:
            raise AssertionError(f"{opened_by.label} was not answered with a form (callback type 9)")
        return modals[0]["data"]

    def _fill(self, components: list[dict], values: dict[str, Any], files: dict[str, Sequence[Upload]],
              actor: Actor, validate: bool) -> tuple[dict[int, Any], dict[str, dict]]:
        """The chosen value of each input (by component id) and the uploads' attachment objects."""
        chosen: dict[int, Any] = {}
        resolved: dict[str, dict] = {}
        used: set[str] = set()
        for label, component in inputs(components):
            kind, custom_id = component.get("type"), component.get("custom_id")
            if kind in _NOT_MODELLED:
                raise AssertionError(f"submitting a form with a {_NOT_MODELLED[kind]} is not modelled by the fake")
            key = label if label in values or label in files else custom_id
            used.add(key)
            name = label or custom_id
            shown: Any = list(files.get(key, [])) if kind == 19 else values.get(key, prefilled(component))
            problem = choice_problem(name, component, shown) if validate else None
            if problem:
                raise AssertionError(f"Discord's client would not submit this form: {problem}")
            if kind == 19:
                if validate:
                    self._check_uploads(name, component, shown, actor)
                attachments = [self._form_upload(upload, actor) for upload in shown]
                resolved.update({a["id"]: a for a in attachments})
                shown = [a["id"] for a in attachments]
            chosen[component["id"]] = shown
        unknown = (set(values) | set(files)) - used
        if unknown:
            raise AssertionError(f"the form has no inputs {sorted(unknown)} (it has {[n for n, _ in inputs(components)]})")
        return chosen, resolved

    @staticmethod
    def _check_uploads(name: str, component: dict, uploads: list[Upload], actor: Actor) -> None:
        for filename, data, *_ in uploads:
            problem = file_type_problem(name, component, filename)
            if problem is None and len(data) > actor.attachment_size_limit:
                problem = f"{name}: {filename} is {len(data)} bytes, over the upload limit {actor.attachment_size_limit}"
            if problem:
                raise AssertionError(f"Discord's client would not upload this: {problem}")

    def _form_upload(self, upload: Upload, actor: Actor) -> dict:
        filename, data, *content_type = upload
        return self._attachment(filename, data, content_type[0] if content_type else None,
                                channel_id=actor.channel_id, ephemeral=True)
