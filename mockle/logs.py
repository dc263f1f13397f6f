"""mockle's log output: one line per LiveEngage call and per socket frame, as text or JSON.

Request lines are records of the ``mockle.requests`` logger at INFO; control API calls
(``/_mockle/...``) are records of ``mockle.control`` at DEBUG, so polling stays quiet unless
``--log-level debug`` or ``--log-control`` asks for it. A record's message is a :class:`Line`
(the journal's :class:`~mockle.web.journal.LogLine`): made only when the logger is enabled,
rendered only when a handler writes it.

Cost: the standard ``Logger.info`` path (find the caller, build a ``LogRecord``, format, write)
costs about 63,000 instructions per line, 11 % of a SEND. So :func:`emit` walks the handlers
itself, as ``Logger.callHandlers`` does, and a :class:`LineHandler` (what ``mockle serve``
installs) gets the line without a ``LogRecord``; any other handler (pytest's caplog, a host
application's own) gets a normal record. Levels, propagation and filters behave as usual.

``mockle serve`` calls :func:`configure`; a library user of :class:`mockle.server.MockleServer`
configures logging as for any library (``logging.getLogger("mockle.requests")``).
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any, Literal, TextIO

import orjson

REQUESTS = logging.getLogger("mockle.requests")
CONTROL = logging.getLogger("mockle.control")
INFO = logging.INFO
DEBUG = logging.DEBUG
WARNING = logging.WARNING

LogFormat = Literal["text", "json"]


MILLIS = [f"{i:03d}" for i in range(1000)]
LOCAL_SECOND: list[Any] = [-1, ""]  # a second, and its HH:MM:SS in local time
_UTC: list[Any] = [-1, ""]  # a second, and its YYYY-MM-DDTHH:MM:SS (UTC)


def set_local_second(second: int) -> None:
    LOCAL_SECOND[1] = time.strftime("%H:%M:%S", time.localtime(second))
    LOCAL_SECOND[0] = second


def clock_text(ms: int) -> str:
    """``HH:MM:SS.mmm`` in local time (text lines). ``strftime`` runs once a second."""
    second = ms // 1000
    if second != LOCAL_SECOND[0]:
        set_local_second(second)
    return f"{LOCAL_SECOND[1]}.{MILLIS[ms % 1000]}"


def iso_time(ms: int) -> str:
    """ISO 8601 in UTC with milliseconds (JSON lines)."""
    second = ms // 1000
    cache = _UTC
    if second != cache[0]:
        cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        cache[0] = second
    return f"{cache[1]}.{MILLIS[ms % 1000]}Z"


_JWT = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


def shorten(value: str) -> str:
    """A secret as the journal and the log show it: its first 10 characters and an ellipsis."""
    return value if len(value) <= 12 else value[:10] + "…"


def shorten_jwts(text: str) -> str:
    return _JWT.sub(lambda m: shorten(m.group(0)), text)


class Line:
    """What a request record carries as its message: rendered only when a handler writes it
    (``text()``, also ``str()``; ``as_json()`` for ``--log-format json``)."""

    __slots__ = ()

    def text(self) -> str:
        raise NotImplementedError

    def as_json(self, level: int, logger: str) -> dict[str, Any]:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.text()


def level_name(level: int) -> str:
    if level == INFO:
        return "info"
    return "debug" if level == DEBUG else logging.getLevelName(level).lower()


class LineFormatter(logging.Formatter):
    """Request lines and every other record, as ``text`` or ``json`` (one object per line)."""

    def __init__(self, fmt: LogFormat = "text") -> None:
        super().__init__()
        self.json = fmt == "json"

    def line(self, line: Line, level: int = INFO, name: str = "mockle.requests") -> str:
        if self.json:
            return orjson.dumps(line.as_json(level, name)).decode()
        return line.text()

    def format(self, record: logging.LogRecord) -> str:
        msg = record.msg
        if isinstance(msg, Line):
            return self.line(msg, record.levelno, record.name)
        message = record.getMessage()
        exc = self.formatException(record.exc_info) if record.exc_info else record.exc_text
        ms = int(record.created * 1000)
        if self.json:
            doc: dict[str, Any] = {
                "time": iso_time(ms),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": message,
            }
            if exc:
                doc["exception"] = exc
            return orjson.dumps(doc).decode()
        text = f"{clock_text(ms)} {record.levelname} {record.name}: {message}"
        return f"{text}\n{exc}" if exc else text


class LineHandler(logging.StreamHandler[TextIO]):
    """Writes :class:`LineFormatter` output; request lines arrive through :meth:`write_line`
    without a ``LogRecord`` (see the module's notes on cost)."""

    def __init__(self, stream: TextIO, fmt: LogFormat = "text") -> None:
        super().__init__(stream)
        self.lines = LineFormatter(fmt)
        self.setFormatter(self.lines)
        self._flush = not getattr(stream, "line_buffering", False)  # stderr flushes on "\n"

    def setStream(self, stream: TextIO) -> TextIO | None:  # logging's name
        old = super().setStream(stream)
        self._flush = not getattr(stream, "line_buffering", False)
        return old

    def write_line(self, line: Line, level: int, name: str) -> None:
        if self.lines.json:
            text = orjson.dumps(line.as_json(level, name)).decode()
        else:
            text = line.text()
        lock = self.lock
        assert lock is not None  # StreamHandler always has one
        lock.acquire()  # (cheaper than `with`; the line is written whole, between other records)
        try:
            self.stream.write(text + "\n")
            if self._flush:
                self.stream.flush()
        except Exception:  # a closed or broken stream: a log line never breaks a request
            pass
        finally:
            lock.release()


def emit(logger: logging.Logger, level: int, line: Line) -> None:
    """Hand ``line`` to the handlers of ``logger`` and its ancestors, as ``Logger.handle`` does.

    The caller has checked ``logger.isEnabledFor(level)``: building the line is its cost."""
    handlers = logger.handlers
    if len(handlers) == 1 and not logger.propagate and not logger.filters:  # configure()'s
        handler = handlers[0]
        if type(handler) is LineHandler and not handler.filters and level >= handler.level:
            handler.write_line(line, level, logger.name)
            return
    if logger.filters:  # a logger filter needs a record: the standard way
        logger.log(level, line)
        return
    record: logging.LogRecord | None = None
    found = False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            found = True
            if level < handler.level:
                continue
            if type(handler) is LineHandler and not handler.filters:
                handler.write_line(line, level, logger.name)
                continue
            if record is None:
                record = logger.makeRecord(logger.name, level, __file__, 0, line, (), None)
            handler.handle(record)
        current = current.parent if current.propagate else None
    last = logging.lastResort
    if not found and last is not None and level >= last.level:
        last.handle(logger.makeRecord(logger.name, level, __file__, 0, line, (), None))


def configure(
    level: str = "info",
    fmt: LogFormat = "text",
    *,
    control: bool = False,
    stream: TextIO | None = None,
) -> LineHandler:
    """Logging for a process that is only a mockle server (``mockle serve``): one handler,
    writing to ``stream`` (stderr), on the root logger and on ``mockle.requests`` and
    ``mockle.control`` (which then do not propagate); request lines at ``info``, the control
    API's at ``debug`` or with ``control``. Calling it again replaces the handler."""
    handler = LineHandler(stream if stream is not None else sys.stderr, fmt)
    for logger in (logging.getLogger(), REQUESTS, CONTROL):
        for old in [h for h in logger.handlers if isinstance(h, LineHandler)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
    # request lines go to the handler straight (one handler, no walk up the loggers: the
    # cheapest way), every other record through the root logger
    REQUESTS.propagate = CONTROL.propagate = False
    logging.getLogger().setLevel(level.upper())
    CONTROL.setLevel(DEBUG if control else logging.NOTSET)
    return handler
