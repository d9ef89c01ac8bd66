"""Text PostgreSQL can store: what an agent prints may hold characters `text` and `jsonb` refuse.

A request body holding such a character is refused (422, `dursor_kit.web.request_bodies`);
an agent's output cannot be refused, so its events carry U+FFFD in their place, as a
decoder shows undecodable bytes.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, and surrogates (only lone ones in a str)
REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD."""
    return UNSTORABLE.sub(REPLACEMENT, text)


StorableText = Annotated[str, AfterValidator(storable)]
