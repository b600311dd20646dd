"""A fake Discord that the real, unmodified discord.py connects to.

One aiohttp application on 127.0.0.1 (random port) serves:

* the REST API under ``/api/v10`` (login, application info, command sync, interaction
  callbacks, followup webhooks, channel messages),
* the gateway websocket at ``/gateway`` (HELLO, IDENTIFY/READY/GUILD_CREATE, heartbeats,
  RESUME, INTERACTION_CREATE),
* a CDN route ``/attachments/{id}/{filename}`` for attachment bytes.

It runs in the test's event loop. Point discord.py at it with :meth:`FakeDiscord.patch_discord`
(or the two assignments it makes). Tests inject slash commands and button clicks with
:meth:`FakeDiscord.invoke` / :meth:`FakeDiscord.click` and read what the bot answered from the
returned :class:`FakeInteraction`.

Where Discord enforces a rule the bot must live by (3 s to acknowledge, message and embed
limits, upload size, the synced command schema) the fake enforces it too and answers the way
Discord does (same status and error code), so the bot's own mistakes surface in tests.

Close the bot before the fake: if the fake goes away first, discord.py tries to reconnect and
logs an error.

Where things live (each module one concern; `FakeDiscord` in server.py stacks their classes):

=================  ==========================================================================
wire.py            paths, message flags, permission sets, snowflakes, Discord's error answers
state.py           the world: guilds, roles, channels, users, messages, interactions, requests
objects.py         Discord's objects as sent: users, roles, channels, members, guilds, the app
interaction.py     `FakeInteraction`: what the bot answered to one injected interaction
rules.py           Discord's rules as pure functions: command schema, invocations, message limits
gateway.py         the websocket: sessions, shards, compression, dispatching events
application.py     login, the application, users and members; command sync
cdn.py             attachment bytes, served and expired like Discord's CDN links
messages.py        making, editing and deleting messages, with uploads and Discord's limits
interactions.py    callbacks, followups and @original: the interaction webhook routes
channels.py        channel and DM routes: posts, edits, deletes, refusals
driver.py          the test-facing API: invoke, click, bot_message, add_role, add_channel
forms.py           modals: submit_modal (the one the bot opened), submit_form (any), values
server.py          `FakeDiscord`: the route table, the recording middleware, start/close
=================  ==========================================================================

A new route is a handler in its concern's module plus one line in server.py's route table. Where
the Discord behaviour still to model goes:

* uploads fetchable with expiry, POST /attachments/refresh-urls: cdn.py
* forms with Labels, selects and file uploads: forms.py (submitting), rules.py (the type 9 reply's
  components), messages.py/cdn.py (`resolved.attachments` of uploads)
* message context menus (type 3 commands, `data.target_id`, `resolved.messages`): driver.py
  (`_command_data`) and rules.py (`find_command` by type)
* user installs and DMs (`context`, `authorizing_integration_owners`, `user` not `member`, 403 50001
  for a channel post where the bot is not a member): driver.py (`_interaction_payload`), channels.py
* locales (`locale`, `guild_locale`) and localization limits on sync: driver.py, rules.py
  (`command_schema_problems`)
* autocomplete (type 4 with the focused option, a type 8 answer of at most 25 choices): driver.py
  (`focused=`), interactions.py (`_callback`), rules.py
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
