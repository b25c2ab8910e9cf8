"""The one lexer of rtsql: types, expressions and statements are read from its tokens.

Whitespace and comments (``// ...`` to the end of the line, ``/* ... */``) separate tokens.
A character no token starts with becomes a ``bad`` token and ends the list: the parser
meeting it reports it with what the parser expected there, so every error says what would
have been valid at that point.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from rillet.errors import ParseError

_SPEC = [
    ("space", r"\s+|//[^\n]*|/\*[\s\S]*?\*/"),
    ("unclosed", r"/\*"),  # a comment that no */ ends: a bad token
    ("number", r"\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+"),
    ("string", r"'(?:[^'\\]|\\[\s\S]|'')*'"),
    ("quoted", r'"(?:[^"]|"")*"'),
    ("attr", r"#[A-Za-z_][A-Za-z0-9_]*"),
    ("word", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("op", r"\|\||&&|==|!=|<>|<=|>=|[<>=+\-*/%(),.;]"),
]
# what is left open at the end of the text when a comment, string or quoted name has no end
_UNCLOSED = {
    "/*": "the comment's closing */",
    "'": "a closing quote (')",
    '"': 'a closing quote (")',
}
# every character starts some token: one no rule takes is a "bad" token of its own
_LEXER = re.compile(
    "|".join(f"(?P<{name}>{pattern})" for name, pattern in _SPEC) + r"|(?P<bad>[\s\S])"
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(u+[0-9a-fA-F]{4}|[0-3][0-7]{0,2}|[4-7][0-7]?|[\s\S])|''")


class Token(NamedTuple):
    """A token: ``kind`` is number, string, quoted, attr, word, op, bad or end.

    ``upper`` is what keywords and operators compare by: a word upper-cased, else the text.
    (A named tuple: a statement makes dozens, and a tuple is the cheapest to make.)
    """

    kind: str
    text: str
    line: int
    col: int
    upper: str


def position(text: str, index: int) -> tuple[int, int]:
    """The 1-based (line, column) of a character index."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token (after a ``bad`` one, if any).

    Examples:
        >>> [t.text for t in tokenize("SELECT f.x /* c */ FROM f;")]
        ['SELECT', 'f', '.', 'x', 'FROM', 'f', ';', '']
        >>> tokenize("a\\n $")[1]
        Token(kind='bad', text='$', line=2, col=2, upper='$')
    """
    tokens: list[Token] = []
    append = tokens.append
    line, line_start, end = 1, 0, len(text)
    for found in _LEXER.finditer(text):
        kind = found.lastgroup
        word = found.group()
        start = found.start()
        if kind in ("bad", "unclosed"):
            append(Token("bad", word, line, start - line_start + 1, word))
            end = start  # nothing after it is read
            break
        if kind != "space":
            upper = word.upper() if kind == "word" else word
            append(Token(kind or "op", word, line, start - line_start + 1, upper))
        if "\n" in word:  # only spaces, comments and literals span lines
            line += word.count("\n")
            line_start = start + word.rindex("\n") + 1
    append(Token("end", "", line, end - line_start + 1, ""))
    return tokens


def _escape(found: re.Match[str]) -> str:
    code = found.group(1)
    if code is None:  # '' inside a literal
        return "'"
    if code[0] == "u" and len(code) > 1:  # Java allows \uuuu0041
        return chr(int(code.lstrip("u"), 16))
    if code[0] in "01234567":
        return chr(int(code, 8))
    return _ESCAPES.get(code, code)


def unescape(literal: str) -> str:
    """The value of a quoted string literal: Java's escapes, and '' for a quote.

    Examples:
        >>> unescape(r"'a\\tb\\u0041\\101\\''")
        "a\\tbAA'"
    """
    return _ESCAPE.sub(_escape, literal[1:-1])


def escape(value: str) -> str:
    """``value`` as a single-quoted rtsql literal that :func:`unescape` reads back."""
    out = []
    for ch in value:
        if ch in "\\'":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32 or 0xD800 <= ord(ch) < 0xE000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


class TokenStream:
    """A cursor over the tokens of one text, shared by the type, expression and statement
    parsers; every error names its line, column and what was expected there."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        """The token ``ahead`` places after the current one (the end token past the end)."""
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def accept(self, upper: str) -> bool:
        """Step over the current token if it is ``upper`` (a keyword or operator)."""
        if self.tokens[self.i].upper == upper and self.tokens[self.i].kind in ("word", "op"):
            self.i += 1
            return True
        return False

    def expect(self, upper: str, expected: str | None = None) -> Token:
        if self.token.upper != upper or self.token.kind not in ("word", "op"):
            raise self.error(expected or repr(upper))
        return self.advance()

    def error(self, expected: str, token: Token | None = None, note: str = "") -> ParseError:
        """A ParseError at ``token`` (the current one by default) that expected ``expected``;
        ``note`` is added to the message in parentheses."""
        token = token or self.token
        if token.kind == "bad":
            expected = _UNCLOSED.get(token.text, expected)
            message = f"unexpected {token.text!r} at {token.line}:{token.col}; expected {expected}"
        else:
            found = "end of input" if token.kind == "end" else repr(token.text)
            message = f"expected {expected} at {token.line}:{token.col}, found {found}"
        if note:
            message += f" ({note})"
        return ParseError(message, line=token.line, col=token.col, expected=expected)
