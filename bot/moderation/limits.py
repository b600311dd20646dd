"""How much one server may configure: enough for any real community, small enough that one server's
configuration stays one quick query and a prompt check stays under a millisecond."""

MAX_CHANNELS = 100
MAX_ROLES = 50
MAX_BLOCKED = 1000
REASON_MAX = 300  # a block's reason, shown to the member
