"""What a server is told at start: who may do what, and the limits that keep it up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rillet.errors import ConfigError

#: a role and everything below it: read < write < admin
ROLES = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """``tokens`` maps a bearer token to its role; none means no auth (loopback only)."""

    tokens: dict[str, str] = field(default_factory=dict)
    #: the largest request body taken (bytes); larger is 413
    max_body: int = 256 * 1024 * 1024
    #: appends running at once; more wait up to ``ingest_wait`` seconds, then get 429
    ingest_slots: int = 8
    ingest_wait: float = 2.0
    #: server-sent events a slow client may have unread before it is dropped
    sse_queue: int = 1024
    #: seconds between heartbeat comments on an idle event stream
    heartbeat: float = 15.0
    #: the folder the database keeps its files in (the only one SQL may read)
    data: Path | None = None

    def __post_init__(self) -> None:
        for token, role in self.tokens.items():
            if role not in ROLES:
                raise ConfigError(
                    f"token role {role!r} is not one of {', '.join(ROLES)}", role=role
                )
            if not token or any(c.isspace() for c in token):
                raise ConfigError("a token must be non-empty text without spaces")


def read_tokens(path: str | Path) -> dict[str, str]:
    """A tokens file: one ``token role`` a line (``#`` starts a comment).

    A line that is not two words, or a role not read/write/admin, is a ConfigError naming
    the file and line.
    """
    tokens: dict[str, str] = {}
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"tokens file {str(path)!r} cannot be read: {exc}") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2 or words[1] not in ROLES:
            raise ConfigError(
                f"tokens file {str(path)!r}, line {number}: expected 'token role' with a role "
                f"of {', '.join(ROLES)}, got {line.strip()!r}",
                line=number,
            )
        tokens[words[0]] = words[1]
    return tokens
