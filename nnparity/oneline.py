"""The one line a failure is told in, whatever it quotes."""


def one_line(message: str) -> str:
    """`message` as one line: a line break or other control character in it (a case path
    whose folder name holds a newline, a port's multi-line R error) is written as Python
    writes it in a string, ``\\n``, so a reader of stderr, or a CI log, sees one line."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


#: Characters a terminal or a report acts on rather than shows, beside Unicode's controls (Cc):
#: line and paragraph separators, and the marks and overrides that reorder text (bidi).
_ACTING = frozenset("\u2028\u2029\u200e\u200f\u061c") | frozenset(
    chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def has_control(text: str) -> bool:
    """Whether `text` holds a control character (ESC, BEL, a line break, a tab: Unicode's Cc),
    a line separator or a bidi override, which a terminal or a report would act on rather
    than show, or a lone surrogate (no UTF-8 can carry it)."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 or 0xD800 <= ord(c) < 0xE000 or c in _ACTING
               for c in text)
