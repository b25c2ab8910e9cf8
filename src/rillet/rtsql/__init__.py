"""rtsql, FlumeBase's stream language: one lexer, the statement parser and AST, ``execute``.

``rillet.rtsql.parse(text)`` is :func:`rillet.rtsql.parser.parse`: the statement in the text
as :mod:`rillet.rtsql.ast` dataclasses.  It is looked up when first used: the lexer sits
under the type and expression parsers, so this package imports nothing at its top.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "parse":
        from rillet.rtsql.parser import parse

        return parse
    raise AttributeError(f"module 'rillet.rtsql' has no attribute {name!r}")
