"""Log lines that a request cannot forge or flood.

Anything the broker logs may come from a request: a redirect URI it refused, the status an
unsigned SAML message claims, an exception's message. Every record of the broker's own loggers
is made safe as it is made, whatever handlers and formatters the process configured (gunicorn,
`flask run`, the tests): each argument of the message (and a message without arguments) is
shown with str(), cut to `LIMIT` characters, and its control characters escaped (CR, LF and the
rest of C0 and C1, DEL, the Unicode line and paragraph separators, the bidirectional overrides),
as is the backslash, so an escape the sender typed cannot pass for one of ours. Numbers pass
unchanged, for `%d`. An exception's traceback keeps its lines; its messages are escaped too.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Mapping
from typing import Any

# How many characters of one value a log line shows.
LIMIT = 200
# The loggers whose records are made safe: the broker's own ("broker", "broker.oidc", ...).
NAMESPACES = frozenset({"broker", "saml", "config"})

_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def shown(value: object) -> str:
    """`value` as a log line may carry it: at most `LIMIT` characters, control characters escaped."""
    text = str(value)
    if len(text) > LIMIT:
        text = f"{text[:LIMIT]}...({len(text) - LIMIT} more)"
    return escaped(text)


def escaped(text: str) -> str:
    """`text` with its control characters (and the backslash) escaped, as log lines show them."""
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def install() -> None:
    """Make every record of the broker's loggers safe as it is made; once per process.

    A record factory rather than a filter: a logger's filters see only the records logged to
    that very logger (not to "broker.oidc" below "broker"), and a handler's only what reaches
    that handler, while every record is made by the factory.
    """
    current = logging.getLogRecordFactory()
    if not isinstance(current, _SafeRecords):
        logging.setLogRecordFactory(_SafeRecords(current))


class _SafeRecords:
    """A log record factory: the records of the broker's loggers made safe, others unchanged."""

    def __init__(self, make: Callable[..., logging.LogRecord]) -> None:
        self.make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.make(*args, **kwargs)
        if record.name.partition(".")[0] in NAMESPACES:
            make_safe(record)
        return record


def make_safe(record: logging.LogRecord) -> None:
    """Escape and cut what `record` shows of its message's values, and of its exception."""
    if isinstance(record.args, Mapping):
        record.args = {name: _argument(value) for name, value in record.args.items()}
    elif record.args:
        record.args = tuple(_argument(value) for value in record.args)
    else:
        # Without arguments the message is shown as it is: it may be data itself.
        record.msg = shown(record.msg)
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = safe_traceback(record.exc_info[1])


def _argument(value: object) -> object:
    return value if isinstance(value, int | float) else shown(value)


def safe_traceback(error: BaseException) -> str:
    """The traceback Python prints for `error` and the exceptions it arose from, each exception's
    message escaped and cut; the frames (our own code) as they are."""
    chain = [error]
    while True:
        last = chain[-1]
        earlier = last.__cause__ or (None if last.__suppress_context__ else last.__context__)
        if earlier is None or earlier in chain:
            break
        chain.append(earlier)
    parts: list[str] = []
    for later, link in zip([None, *chain], chain, strict=False):
        if later is not None:
            parts.append(_CAUSE if later.__cause__ is link else _CONTEXT)
        frames = "".join(traceback.format_tb(link.__traceback__))
        parts.append(f"Traceback (most recent call last):\n{frames}{_exception_line(link)}\n")
    return "".join(reversed(parts)).rstrip("\n")


def _exception_line(error: BaseException) -> str:
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    message = str(error)
    return f"{name}: {shown(message)}" if message else name
