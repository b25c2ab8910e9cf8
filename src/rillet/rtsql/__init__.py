"""rtsql, FlumeBase's stream language: one lexer, the statement parser and AST, ``execute``.

The package's modules are imported where they are needed (``rillet.rtsql.parser``,
``rillet.rtsql.ast``, ...): the lexer sits under the type and expression parsers, so this
package must not import them at its top.
"""
