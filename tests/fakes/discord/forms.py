"""Forms (modals): submitting the one the bot opened, or any a hostile client makes up."""

from __future__ import annotations

from .driver import FIRST_GUILD, Driver
from .interaction import FakeInteraction
from .wire import DEFAULT_MEMBER_PERMISSIONS, DEFAULT_UPLOAD_LIMIT


class Forms(Driver):
    async def submit_form(
        self,
        custom_id: str,
        values: dict[str, str],
        *,
        user_id: int = 4000,
        username: str = "alice",
        guild_id: int | None = FIRST_GUILD,
        channel_id: int | None = None,
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
    ) -> FakeInteraction:
        """Submit a form (modal) the bot never opened for this member: any custom_id, and `values`
        (text input custom_id -> text), as a hostile client can."""
        actor = self._actor(
            user_id=user_id,
            username=username,
            guild_id=guild_id,
            channel_id=channel_id,
            roles=(),
            permissions=permissions,
            locale="en-US",
            attachment_size_limit=DEFAULT_UPLOAD_LIMIT,
        )
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
                for key, value in values.items()]
        return await self._inject(actor, 5, {"custom_id": custom_id, "components": rows}, f"modal {custom_id}")

    async def submit_modal(
        self,
        opened_by: FakeInteraction,
        values: dict[str, str],
        *,
        user_id: int | None = None,
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
    ) -> FakeInteraction:
        """Submit the modal `opened_by` was answered with (callback type 9), its text inputs filled in
        by label: `values` maps a label to the text; inputs not named keep their prefilled value."""
        (callback,) = [c for c in opened_by.callbacks if c.get("type") == 9]
        modal = callback["data"]
        rows = []
        for row in modal.get("components") or []:
            inner = [row["component"]] if row.get("type") == 18 else row.get("components") or []
            filled = []
            for item in inner:
                label = row.get("label") or item.get("label")
                value = values.get(label, item.get("value") or "")
                filled.append({"type": 4, "custom_id": item["custom_id"], "value": value})
            if row.get("type") == 18:
                rows.append({"type": 18, "id": row.get("id"), "component": filled[0]})
            else:
                rows.append({"type": 1, "components": filled})
        actor = opened_by.actor
        if user_id is not None or permissions != actor.permissions:
            actor = self._actor(
                user_id=actor.user_id if user_id is None else user_id,
                username=actor.username,
                guild_id=actor.guild_id,
                channel_id=actor.channel_id,
                roles=actor.roles,
                permissions=permissions,
                locale=actor.locale,
                attachment_size_limit=actor.attachment_size_limit,
            )
        data = {"custom_id": modal["custom_id"], "components": rows}
        return await self._inject(actor, 5, data, f"modal {modal['custom_id']}")

    def modal_values(self, opened_by: FakeInteraction) -> dict[str, str]:
        """Label -> prefilled value of the modal `opened_by` was answered with."""
        (callback,) = [c for c in opened_by.callbacks if c.get("type") == 9]
        found = {}
        for row in callback["data"].get("components") or []:
            inner = [row["component"]] if row.get("type") == 18 else row.get("components") or []
            for item in inner:
                found[row.get("label") or item.get("label")] = item.get("value") or ""
        return found
