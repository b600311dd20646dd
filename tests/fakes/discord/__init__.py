"""A fake Discord that the real, unmodified discord.py connects to.

One aiohttp application on 127.0.0.1 (random port) serves:

* the REST API under ``/api/v10`` (login, application info, command sync, interaction
  callbacks, followup webhooks, channel messages),
* the gateway websocket at ``/gateway`` (HELLO, IDENTIFY/READY/GUILD_CREATE, heartbeats,
  RESUME, INTERACTION_CREATE),
* the CDN, ``/attachments/...`` and ``/ephemeral-attachments/...`` (and ``/media/...`` for
  ``proxy_url``): attachment bytes behind signed links that expire (``?ex=&is=&hm=``); with
  ``signed_urls = False`` (what tests/fakes/launch.py sets, for tests written before) bare links.

It runs in the test's event loop. Point discord.py at it with :meth:`FakeDiscord.patch_discord`
(or the two assignments it makes). Tests act as members through the driver and read what the bot
answered from the returned :class:`FakeInteraction`:

* ``invoke(name, options, ...)``: a slash command; ``locale=``, and where: ``dm=True`` (the bot's
  DM), ``context=2`` (a DM between users), ``user_install=True`` (the member's own install of the
  app; with a ``guild_id`` the bot is not in, a server it is not in), ``guild_locale=``
* ``autocomplete(name, options, focused)``: the choices the bot offers (type 4, answered by type 8)
* ``click(message, custom_id)``: a button or select on a message the fake holds
* ``submit_modal(opened_by, values, files=)`` / ``submit_form(custom_id, values, files=)``: forms
  (Labels, text inputs, string selects, file uploads)
* ``member_message(channel_id, content=, files=)`` and ``invoke_message_command(name, message)``:
  a member's message and a message context menu used on it
* ``expire_attachments(*urls)``, ``cdn_put``, ``cdn_remove``, ``cdn_expire_after``: the CDN;
  ``set_guild_locale``, ``add_role``, ``add_channel``, ``add_guild_without_bot``: the servers;
  ``refuse``, ``fail_callbacks``, ``refuse_channel_posts``, ``refuse_dms``, ``FakeInteraction.expire``:
  Discord failing or refusing

Where Discord enforces a rule the bot must live by (3 s to acknowledge, message and embed
limits, upload size, the synced command schema and its localizations, forms, autocomplete answers)
the fake enforces it too and answers the way Discord does (same status and error code, errors in
Discord's nested shape), so the bot's own mistakes surface in tests. Each rule is read from Discord's
documentation (github.com/discord/discord-api-docs, developers/...), not from what the bot expects.

Close the bot before the fake: if the fake goes away first, discord.py tries to reconnect and
logs an error.

Where things live (each module one concern; `FakeDiscord` in server.py stacks their classes):

=================  ==========================================================================
wire.py            paths, flags, permission sets, locales, snowflakes, Discord's error answers
state.py           the world: guilds, roles, channels, users, messages, interactions, requests
objects.py         Discord's objects as sent: users, roles, channels, members, guilds, the app
interaction.py     `FakeInteraction`: what the bot answered to one injected interaction
rules.py           who sees which command, the invocation it accepts, autocomplete answers, message limits
schema.py          the command sync's rules: names, descriptions, options, localizations, installs
components.py      forms: the type 9 reply's rules, and what a filled-in form sends back
gateway.py         the websocket: sessions, shards, compression, dispatching events
application.py     login, the application, users and members; command sync
cdn.py             attachment bytes behind signed, expiring links; POST /attachments/refresh-urls
messages.py        making, editing and deleting messages, with uploads and Discord's limits
interactions.py    callbacks, followups and @original: the interaction webhook routes
channels.py        channel and DM routes: posts, edits, deletes, refusals, Missing Access
places.py          where an interaction happens (context, installs, locales), servers and roles
driver.py          the test-facing API: invoke, autocomplete, click, bot_message
menus.py           message context menus and members' own messages
forms.py           forms: submit_modal (the one the bot opened), submit_form (any), modal_values
server.py          `FakeDiscord`: the route table, the recording middleware, start/close
=================  ==========================================================================

A new route is a handler in its concern's module plus one line in server.py's route table.
"""

from .interaction import FakeInteraction
from .server import FakeDiscord
from .state import RecordedRequest
from .wire import BOT_PERMISSIONS, DEFAULT_MEMBER_PERMISSIONS, EPHEMERAL, LOADING

__all__ = [
    "FakeDiscord",
    "FakeInteraction",
    "RecordedRequest",
    "DEFAULT_MEMBER_PERMISSIONS",
    "BOT_PERMISSIONS",
    "EPHEMERAL",
    "LOADING",
]
