"""The one line a failure is told in, whatever it quotes."""


def one_line(message: str) -> str:
    """`message` as one line: a line break or other control character in it (a case path
    whose folder name holds a newline, a port's multi-line R error) is written as Python
    writes it in a string, ``\\n``, so a reader of stderr, or a CI log, sees one line."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def has_control(text: str) -> bool:
    """Whether `text` holds a control character (Unicode's Cc: ESC, BEL, a line break, a tab),
    which a terminal or a report would act on rather than show."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)
