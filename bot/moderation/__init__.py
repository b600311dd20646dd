"""Per-server moderation's prompt rules: Discord-free and store-free (the /config cog and the
moderation cache feed them stored rows; the gates call `PromptRules.check`).

`normalize`/`words` are imported from bot.moderation.normalize: the package's `words` is the
word-list module."""

from bot.moderation.limits import MAX_PATTERN_CHARS, MAX_PATTERNS, MAX_WORD_CHARS, MAX_WORDS
from bot.moderation.patterns import BadPattern, check_pattern
from bot.moderation.prompt_rules import NO_RULES, PromptRules, Rule, Violation
from bot.moderation.words import BadWord, check_word

__all__ = [
    "MAX_PATTERNS", "MAX_PATTERN_CHARS", "MAX_WORDS", "MAX_WORD_CHARS", "NO_RULES", "BadPattern",
    "BadWord", "PromptRules", "Rule", "Violation", "check_pattern", "check_word",
]
