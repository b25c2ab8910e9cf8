"""The lexer of rtsql expressions: tokens with their line and column."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rillet.errors import ParseError

_SPEC = [
    ("space", r"\s+|//[^\n]*|/\*[\s\S]*?\*/"),
    ("number", r"\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+"),
    ("string", r"'(?:[^'\\]|\\.|'')*'"),
    ("quoted", r'"(?:[^"]|"")*"'),
    ("attr", r"#[A-Za-z_][A-Za-z0-9_]*"),
    ("word", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("op", r"\|\||&&|==|!=|<>|<=|>=|[<>=+\-*/%(),.]"),
]
_LEXER = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _SPEC))
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", "'": "'", '"': '"'}
_ESCAPES["\\"] = "\\"


@dataclass(frozen=True, slots=True)
class Token:
    """A token: ``kind`` is number, string, quoted, attr, word, op or end."""

    kind: str
    text: str
    line: int
    col: int

    @property
    def upper(self) -> str:
        """Keywords and operators compare by this: words upper-cased, the rest as written."""
        return self.text.upper() if self.kind == "word" else self.text


def position(text: str, index: int) -> tuple[int, int]:
    """The 1-based (line, column) of a character index."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token; ParseError at the first bad one."""
    tokens = []
    pos = 0
    while pos < len(text):
        match = _LEXER.match(text, pos)
        if match is None:
            line, col = position(text, pos)
            bad = text[pos]
            expected = "an expression"
            if bad == "'":
                expected = "a closing quote (')"
            raise ParseError(
                f"unexpected {bad!r} at {line}:{col}; expected {expected}",
                line=line, col=col, expected=expected,
            )  # fmt: skip
        kind = match.lastgroup or "op"
        if kind != "space":
            line, col = position(text, pos)
            tokens.append(Token(kind, match.group(), line, col))
        pos = match.end()
    line, col = position(text, len(text))
    tokens.append(Token("end", "", line, col))
    return tokens


def unescape(literal: str) -> str:
    """The value of a quoted string literal, with Java-style escapes and '' for a quote."""
    body = literal[1:-1]
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
        elif ch == "'" and body[i + 1 : i + 2] == "'":
            out.append("'")
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
