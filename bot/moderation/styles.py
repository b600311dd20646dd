"""Server styles: a name and a template around the member's prompt (`{prompt}, watercolor, soft light`).

A few are built in; a server removes any of them or adds its own (/config styles), at most MAX_STYLES
in all, the most Discord shows in an autocomplete. A style's text is checked at add time against the
rules that hold everywhere and the server's own words, and the whole styled prompt goes through the
prompt rules with every request, like the member's own text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from bot.core.errors import InvalidInput
from bot.core.i18n import _
from bot.core.text import code_span
from bot.moderation.prompt_rules import PromptRules, Rule

PLACEHOLDER = "{prompt}"
MAX_STYLES = 25  # Discord's most choices in one autocomplete answer
NAME_MAX = 32
TEMPLATE_MAX = 500
_NAME = re.compile(r"^[a-z0-9][a-z0-9 _-]*$")

BUILTIN_STYLES: Mapping[str, str] = MappingProxyType({
    "photo": "{prompt}, professional photograph, natural light, sharp focus",
    "watercolor": "{prompt}, watercolor painting, soft washes of colour, paper texture",
    "anime": "{prompt}, anime illustration, clean line art, vivid colours",
    "cinematic": "{prompt}, cinematic film still, dramatic lighting, shallow depth of field",
    "pixel-art": "{prompt}, pixel art, 16-bit, limited palette",
})


def style_name(raw: str) -> str:
    """A style's name as stored and matched: lower case, single spaces; or the sentence saying why not."""
    name = " ".join(raw.split()).lower()
    if not name or len(name) > NAME_MAX or not _NAME.match(name):
        raise InvalidInput(_("A style's name is 1 to {most} letters, digits, spaces, `-` or `_` (you gave {given}).",
                             most=NAME_MAX, given=code_span(raw, 40)))
    return name


def check_template(template: str, rules: PromptRules) -> str:
    """The template, if it has the placeholder, fits, and breaks none of the rules that hold in every channel."""
    text = " ".join(template.split())
    if PLACEHOLDER not in text:
        raise InvalidInput(_("A style's template needs {placeholder} where the member's prompt goes, for example "
                             "{example}.", placeholder=code_span(PLACEHOLDER),
                             example=code_span("{prompt}, watercolor, soft light")))
    if len(text) > TEMPLATE_MAX:
        raise InvalidInput(_("The template is {length} characters long; the most is {most}.", length=len(text),
                             most=TEMPLATE_MAX))
    violation = rules.check(text.replace(PLACEHOLDER, " "), age_restricted=True, mild_filter=False)
    if violation is not None and violation.rule is not Rule.MILD_FILTER:
        raise InvalidInput(_("That style cannot be added: {why}", why=violation.text),
                           detail=f"style refused: {violation.rule.value} {violation.term!r}")
    return text


def apply_style(template: str, prompt: str) -> str:
    return template.replace(PLACEHOLDER, prompt)


def styles_of(own: Mapping[str, str], removed: frozenset[str]) -> dict[str, str]:
    """The server's styles by name: the built-ins it kept, then its own (which win over a built-in's name)."""
    found = {name: text for name, text in BUILTIN_STYLES.items() if name not in removed}
    found.update(own)
    return found
