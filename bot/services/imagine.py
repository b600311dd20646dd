"""The creative loop's requests, Discord-free: /imagine's options turned into one model's own, a member's
defaults (/settings) filled in where an option was left out, the server's style put around the prompt,
and a request of one to four images made into that many prepared jobs with different seeds."""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from bot.catalog import ASPECT_RATIOS, MODELS, PROMPT_MAX_LENGTH, SEED_MAX, Kind, Model, aspect_options
from bot.core.errors import InvalidInput
from bot.core.i18n import _, option_name
from bot.core.text import code_span
from bot.domain import PERSONAL, Member
from bot.moderation.config import IMAGINE_MODEL, PRIVATE_RESULTS, GuildConfig
from bot.moderation.styles import apply_style, style_name
from bot.services.validation import EMPTY_PROMPT, Prepared, clean_text, is_blank, prepare

MAX_COUNT = 4
# What /settings keeps, in the order it shows them.
DEFAULT_NAMES = ("model", "aspect_ratio", "count", "negative_prompt", "style", "private")
TEXT_MODEL_KEYS = tuple(m.key for m in MODELS.values() if m.kind is Kind.TEXT)
NO_PRIVATE = _("This server does not offer results shown only to you; an admin can allow it with /config imagine.")
# Where no server decides (PERSONAL): a DM is the member's already, and a server that did not add the bot
# gets results shown to the member alone whatever they choose; there are no styles either.
NO_PRIVATE_PERSONAL = _("Where your personal credits pay, your results are yours alone already: in DMs, and in "
                        "servers that have not added the bot. There is nothing to turn on.")
NO_STYLES_PERSONAL = _("Styles belong to a server that added the bot; there are none where your personal credits pay.")


@dataclass(frozen=True)
class Asked:
    """A request of the loop as the member gave it (None: left out)."""

    options: dict[str, Any]  # the model's own options (prompt included)
    model: str | None = None  # /imagine: the member's choice; a model's own command: that model
    count: int | None = None
    style: str | None = None
    aspect_ratio: str | None = None  # /imagine only
    imagine: bool = False


@dataclass(frozen=True)
class Plan:
    """What is queued: one prepared job per image, and what the result shows about how it was made."""

    prepared: tuple[Prepared, ...]
    style: str | None
    from_defaults: tuple[str, ...]
    private: bool

    @property
    def model(self) -> Model:
        return self.prepared[0].model


def plan(asked: Asked, defaults: dict[str, Any], config: GuildConfig, *, max_count: int = MAX_COUNT,
         rng: random.Random | None = None) -> Plan:
    """The request with the member's defaults and the server's style applied, checked like any command
    (InvalidInput: the member's sentence). An option given always wins over a default."""
    used: list[str] = []

    def default(name: str, usable: bool) -> Any:
        if usable:
            used.append(name)
            return defaults[name]
        return None

    options = dict(asked.options)
    model = _model(asked, defaults, config, used)
    count = asked.count if asked.count is not None else default("count", isinstance(defaults.get("count"), int))
    if asked.count is None and count is not None:
        count = max(1, min(int(count), max_count))  # a default saved before the bot's limit was lowered
    style = asked.style if asked.style is not None else default("style", defaults.get("style") in config.styles)
    if options.get("negative_prompt") is None and model.param("negative_prompt"):
        options["negative_prompt"] = default("negative_prompt", bool(defaults.get("negative_prompt")))
    sized = any(options.get(name) is not None for name in ("width", "height", "aspect_ratio"))
    ratio = asked.aspect_ratio if asked.aspect_ratio is not None else default(
        "aspect_ratio", not sized and defaults.get("aspect_ratio") in ASPECT_RATIOS)
    if ratio is not None:
        options.update(aspect_options(model, _ratio(ratio)))
    name = None
    if style is not None:
        name = style_name(str(style))
        template = config.styles.get(name)
        if template is None:
            raise InvalidInput(_("This server has no style named {style}; pick one the list offers (admins: "
                                 "/config styles list).", style=code_span(name, 40)))
        own = clean_text(str(options.get("prompt") or ""))
        if is_blank(own):
            raise InvalidInput(EMPTY_PROMPT)
        options["prompt"] = apply_style(template, own)
    private = bool(default("private", only_me(defaults, config)))
    return Plan(prepare_count(model, options, _count(1 if count is None else count, max_count), rng=rng), name,
                tuple(sorted(used, key=DEFAULT_NAMES.index)), private)


def only_me(defaults: dict[str, Any], config: GuildConfig) -> bool:
    """The member's "results only to me" (/settings), where the server allows it."""
    return bool(defaults.get("private")) and bool(config.get(PRIVATE_RESULTS))


def _model(asked: Asked, defaults: dict[str, Any], config: GuildConfig, used: list[str]) -> Model:
    if not asked.imagine:  # a model's own command
        return MODELS[str(asked.model)]
    key = asked.model
    if key is None and defaults.get("model") in TEXT_MODEL_KEYS and defaults["model"] not in config.models_off:
        key = defaults["model"]
        used.append("model")
    if key is None:
        key = config.get(IMAGINE_MODEL)
        if key not in TEXT_MODEL_KEYS:
            key = "sdxl"
    if key not in TEXT_MODEL_KEYS:
        raise InvalidInput(_("`{option}` must be one of {choices} (you gave {given}).", option=option_name("model"),
                             choices=", ".join(TEXT_MODEL_KEYS), given=code_span(str(key), 40)))
    model = MODELS[key]
    for option in ("negative_prompt", "seed"):
        if asked.options.get(option) is not None and model.param(option) is None:
            raise InvalidInput(_("{model} takes no `{option}`; leave it out or pick another model.", model=model.title,
                                 option=option_name(option)))
    return model


def _count(raw: Any, most: int = MAX_COUNT) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= most:
        raise InvalidInput(_("`{option}` must be a whole number from 1 to {most} here (you gave {given}).",
                             option=option_name("count"), most=most, given=code_span(str(raw), 20)))
    return raw


def _ratio(raw: Any) -> str:
    if raw not in ASPECT_RATIOS:
        raise InvalidInput(_("`{option}` must be one of {choices} (you gave {given}).", option=option_name("aspect_ratio"),
                             choices=", ".join(ASPECT_RATIOS), given=code_span(str(raw), 20)))
    return str(raw)


def prepare_count(model: Model, options: dict[str, Any], count: int, *,
                  rng: random.Random | None = None) -> tuple[Prepared, ...]:
    """`count` prepared jobs: a seed given is the first image's and the next ones follow it (so the batch
    can be made again); without one, each image gets its own random seed."""
    first = prepare(model, options, rng=rng)
    if count == 1:
        return (first,)
    seed = dict(first.shown).get("seed")
    given = options.get("seed") is not None
    more = [prepare(model, {**options, "seed": (seed + n) % (SEED_MAX + 1) if given and seed is not None else None},
                    rng=rng) for n in range(1, count)]
    return (first, *more)


# -- /settings ---------------------------------------------------------------------------------------


class DefaultsStore(Protocol):
    async def member_defaults(self, guild_id: int, user_id: int) -> dict[str, Any]: ...

    async def members_with_defaults(self, guild_id: int) -> set[int]: ...

    async def set_member_default(self, guild_id: int, user_id: int, name: str, value: Any) -> None: ...

    async def reset_member_defaults(self, guild_id: int, user_id: int) -> int: ...


DEFAULTS_CACHED = 10_000  # members whose defaults a process keeps (a bound on memory, not a tunable)
SERVERS_CACHED = 1_000  # servers whose members with defaults a process knows
SERVER_MEMBERS_KEPT = 50_000  # a server with more members with defaults is asked member by member


class Imagine:
    """/settings, and each command's read of the member's defaults.

    A member's defaults are kept in the process once read, so a member whose defaults did not change
    costs a command no ledger read. /settings set and reset drop the entry before they answer, and a
    server's commands always reach the same shard's process. /forget is the write another process may
    make: it clears the member's defaults in every server from whichever shard it was used on. So it
    drops the entries here (History's `forgotten`), and on PostgreSQL every change to member_defaults
    tells every process at its COMMIT (NOTIFY member_defaults, migration 0013), which drops the
    member's entries there (`forgotten`, wired by the composition root); if the listening connection
    drops, everything sent meanwhile may be lost, so every entry is dropped (`forgotten(None)`). SQLite
    is one process. The personal scope is not kept: its defaults are written from DMs (shard 0) and
    from servers that did not add the bot (whose interactions reach that server's shard), so two
    processes may write them.

    Each server's list of who has any default at all is kept too, so a member without defaults (most
    of them) costs no read either, not even their first command; it follows the same drops, and any
    member's /forget or change heard from another process drops every server's list."""

    def __init__(self, store: DefaultsStore, *, cached: int = DEFAULTS_CACHED) -> None:
        self._store = store
        self._cached: OrderedDict[tuple[int, int], dict[str, Any]] = OrderedDict()
        self._most = cached
        self._writes = 0  # a read that began before a write is not kept
        self._who: OrderedDict[int, set[int]] = OrderedDict()  # server -> members with any default there

    async def defaults(self, member: Member) -> dict[str, Any]:
        key = (member.guild_id, member.user_id)
        kept = self._cached.get(key)
        if kept is not None:
            self._cached.move_to_end(key)
            return dict(kept)
        writes = self._writes
        who = None if member.guild_id == PERSONAL else await self._with_defaults(member.guild_id)
        if who is not None and member.user_id not in who:
            return {}
        defaults = await self._store.member_defaults(*key)
        if member.guild_id != PERSONAL and writes == self._writes:
            self._cached[key] = dict(defaults)
            while len(self._cached) > self._most:
                self._cached.popitem(last=False)
        return defaults

    async def _with_defaults(self, guild_id: int) -> set[int] | None:
        """The server's members with any default (None: too many to keep; each member is asked for)."""
        kept = self._who.get(guild_id)
        if kept is not None:
            self._who.move_to_end(guild_id)
            return kept
        writes = self._writes
        found = await self._store.members_with_defaults(guild_id)
        if len(found) > SERVER_MEMBERS_KEPT:
            return None
        if writes == self._writes:
            self._who[guild_id] = found
            while len(self._who) > SERVERS_CACHED:
                self._who.popitem(last=False)
        return found

    def _changed(self, guild_id: int, user_id: int) -> None:
        self._writes += 1
        self._cached.pop((guild_id, user_id), None)
        self._who.pop(guild_id, None)

    def forgotten(self, user_id: int | None) -> None:
        """/forget (here or in another process): the member's defaults are read again from the ledger in
        every server (None: every member's, when changes may have been missed). A read under way now is
        not kept."""
        self._writes += 1
        self._who.clear()  # a change heard from elsewhere may be a default set in a server kept here
        if user_id is None:
            self._cached.clear()
            return
        for key in [key for key in self._cached if key[1] == user_id]:
            del self._cached[key]

    async def set_defaults(self, member: Member, given: dict[str, Any], config: GuildConfig) -> dict[str, Any]:
        """Check and store each value given (None: left alone; "" or "none": cleared); returns them all."""
        try:
            for name, raw in given.items():
                if raw is None:
                    continue
                await self._store.set_member_default(member.guild_id, member.user_id, name,
                                                     checked_default(name, raw, config))
        finally:
            self._changed(member.guild_id, member.user_id)
        return await self.defaults(member)

    async def reset(self, member: Member) -> int:
        try:
            return await self._store.reset_member_defaults(member.guild_id, member.user_id)
        finally:
            self._changed(member.guild_id, member.user_id)


def checked_default(name: str, raw: Any, config: GuildConfig) -> Any:
    """A /settings value as stored (None: clear it), or the member's sentence for why not."""
    if isinstance(raw, str) and clean_text(raw).lower() in ("", "none"):
        return None
    if name == "model":
        if raw not in TEXT_MODEL_KEYS:
            raise InvalidInput(_("`{option}` must be one of {choices}.", option=option_name("model"),
                                 choices=", ".join(TEXT_MODEL_KEYS)))
        return raw
    if name == "aspect_ratio":
        return _ratio(raw)
    if name == "count":
        return _count(raw)
    if name == "negative_prompt":
        text = clean_text(str(raw))
        if len(text) > PROMPT_MAX_LENGTH:
            raise InvalidInput(_("`{option}` is {length} characters long; the most is {most}.",
                                 option=option_name("negative_prompt"), length=len(text), most=PROMPT_MAX_LENGTH))
        return text
    if name == "style":
        style = style_name(str(raw))
        if style not in config.styles:
            raise InvalidInput(NO_STYLES_PERSONAL if config.guild_id == PERSONAL else
                               _("This server has no style named {style}.", style=code_span(style, 40)))
        return style
    if name == "private":
        if raw and not config.get(PRIVATE_RESULTS):
            raise InvalidInput(NO_PRIVATE_PERSONAL if config.guild_id == PERSONAL else NO_PRIVATE)
        return True if raw else None
    raise InvalidInput(_("/{command} has no option named {option}.", command="settings", option=code_span(str(name), 40)))
