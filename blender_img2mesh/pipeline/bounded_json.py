"""JSON the tool reads from outside -- sidecars, worker requests -- with bounds.

:func:`loads` is ``json.loads`` that also refuses text longer than ``limit`` characters,
values nested deeper than ``depth`` and the non-JSON constants ``NaN``/``Infinity``, all
as one ``ValueError`` saying which (never ``RecursionError`` or ``MemoryError``: a deeply
nested or huge input is that item's error, not a traceback that ends a worker or a
batch).  :func:`read` does the same for a file, reading at most ``limit`` bytes.
:func:`clip` shortens a text that is echoed back in a message.
"""

import json

#: default bounds: a sidecar is ~3 KB, a request ~1 KB, nesting 3 levels
LIMIT = 1 << 20
DEPTH = 32


class TooLarge(ValueError):
    """The text is longer than the limit."""


def _constant(name):
    raise ValueError(f"{name} is not JSON")


def _depth(value, depth):
    """Raise ValueError when ``value`` is nested deeper than ``depth`` (iteratively)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            if level > depth:
                raise ValueError(f"nested deeper than {depth} levels")
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict)
                                                  else item))


def loads(text, limit=LIMIT, depth=DEPTH):
    """``text`` (str or bytes) as JSON within the bounds, else ``ValueError``."""
    if len(text) > limit:
        raise TooLarge(f"longer than {limit} characters")
    try:
        value = json.loads(text, parse_constant=_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {depth} levels") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 ({exc.reason})") from None
    _depth(value, depth)
    return value


def read(path, limit=LIMIT, depth=DEPTH):
    """The JSON file ``path`` (at most ``limit`` bytes read); ``OSError`` when it cannot
    be read, ``ValueError`` when it is not bounded JSON."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    return loads(data, limit, depth)


def clip(text, n=80):
    """At most ``n`` characters of ``text`` (line breaks as spaces), and how long it was
    when it is cut: what a message may echo of an input."""
    head = " ".join(str(text)[:n + 1].split())
    return head if len(text) <= n else f"{head[:n]}... ({len(text)} characters)"
