"""Per-server moderation (/config): who may generate where, which models, and what may be asked.
Discord-free: the cogs describe who asks where (`gates.Asker`); the prompt rules are store-free too.

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
