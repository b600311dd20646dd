"""Everything Discord that is not a slash command: the Bot class, the error funnel, replies, embeds,
command sync, delivery, and the persistent buttons and forms (items/)."""
