"""A fake Pixazo API: a real aiohttp server on 127.0.0.1 that speaks the documented protocol.

Written from the provider's document (/work/shared/seeds/000_4dbacd72a8a12f7f.txt), NOT from the
bot's model catalog: the field table in contract.py is this package's own reading of the document,
so a wrong entry in the bot's catalog fails a test instead of agreeing with itself. Nothing from
`bot/` is imported here on purpose.

Order of checks for an API call (tests rely on it):
    path (404) -> method (405) -> subscription key (401/403) -> body (400)
    -> inpainting input fetches (400, or 200 with an empty imageUrl) -> queued/default behaviour -> answer.
So a wrong body is refused whatever behaviour is queued, and a queued behaviour is only consumed by
a call that got past validation.

Usage:
    fake = FakePixazo()
    await fake.start()          # fake.base_url == "http://127.0.0.1:<port>"
    fake.push(Behaviour.RATE_LIMITED, retry_after=0.1)
    ...
    await fake.close()

Where things live:

=============  ==================================================================================
contract.py    the document's endpoints and fields (names, types, ranges, which are required)
rules.py       validating a request body against that table: the 400 that names the field
behaviours.py  the switches a test turns: `Behaviour` (429, 500, hang, malformed JSON, ...)
answers.py     what Pixazo answers: bodies, gateway errors, result URLs, the size of the image
server.py      `FakePixazo`: the aiohttp app, the order of checks, inpainting fetches (recorded), images
tls.py         a throwaway certificate, for the HTTPS listener and clients that trust it
=============  ==================================================================================
"""

from .behaviours import Behaviour
from .contract import ENDPOINTS, EndpointSpec, FieldSpec
from .rules import BadRequest, validate
from .server import FakePixazo, FetchedInput, RecordedCall
from .tls import tls_client_context, tls_server_context

__all__ = [
    "ENDPOINTS",
    "BadRequest",
    "Behaviour",
    "EndpointSpec",
    "FakePixazo",
    "FetchedInput",
    "FieldSpec",
    "RecordedCall",
    "tls_client_context",
    "tls_server_context",
    "validate",
]
