"""Safe streaming XML for ink files: defusedxml refuses entity declarations (bombs) and external entities.

:func:`iterparse` yields ``(event, element)`` like ElementTree's; :func:`sax_parse` streams SAX events to a
handler (about 1.5x faster: no element objects). Both raise :class:`~engine.core.errors.DataError` with a one-line
reason for anything unsafe, malformed or unreadable.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from xml.parsers.expat import ExpatError
from xml.sax import SAXException, SAXParseException

import defusedxml
import defusedxml.ElementTree as DET
import defusedxml.sax as DSAX

from engine.core.errors import DataError

# What one malformed or hostile input file can raise while it is read and cleaned. Importers skip such a
# file (listing it with :func:`reason`) and carry on; anything else (KeyboardInterrupt, MemoryError, a bug's
# TypeError) still stops the import.
FILE_ERRORS = (DataError, ValueError, ArithmeticError, OSError, ET.ParseError, ExpatError, SAXException,
               defusedxml.DefusedXmlException)


def local(tag: str) -> str:
    """Tag name without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1] if tag[:1] == "{" else tag


def reason(exc: BaseException) -> str:
    """A short user-facing reason for an XML failure (one line, at most 300 characters)."""
    r = " ".join(_reason(exc).split())
    return r if len(r) <= 300 else r[:297] + "..."


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DataError):
        return str(exc)
    if isinstance(exc, defusedxml.EntitiesForbidden):
        ext = " (an external entity)" if getattr(exc, "sysid", None) or getattr(exc, "pubid", None) else ""
        return f"refused: the file declares XML entities{ext}, which could expand or leak data"
    if isinstance(exc, defusedxml.ExternalReferenceForbidden):
        return "refused: the file references an external resource"
    if isinstance(exc, defusedxml.DTDForbidden):
        return "refused: the file contains a DTD"
    if isinstance(exc, defusedxml.DefusedXmlException):
        return f"refused: {exc}"
    if isinstance(exc, ET.ParseError):
        return f"malformed XML: {exc}"
    if isinstance(exc, SAXParseException):
        return f"malformed XML: {exc.getMessage()}: line {exc.getLineNumber()}, column {exc.getColumnNumber()}"
    if isinstance(exc, SAXException):
        return f"malformed XML: {exc.getMessage()}"
    if isinstance(exc, UnicodeError):
        return f"bad text encoding: {exc}"
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror or exc}"
    if isinstance(exc, OverflowError):
        return f"a value too large for a number ({exc})"
    return f"{type(exc).__name__}: {exc}"


def iterparse(source: str | os.PathLike, events=("start", "end")):
    """Stream a file's elements; unsafe or malformed content raises DataError(reason)."""
    try:
        yield from DET.iterparse(os.fspath(source), events=events, forbid_dtd=False, forbid_entities=True,
                                 forbid_external=True)
    except (ET.ParseError, defusedxml.DefusedXmlException, UnicodeError, OSError) as exc:
        raise DataError(reason(exc)) from None


def sax_parse(source: str | os.PathLike, handler) -> None:
    """Stream a file to a SAX ContentHandler; unsafe or malformed content raises DataError(reason)."""
    try:
        DSAX.parse(os.fspath(source), handler, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except (SAXException, defusedxml.DefusedXmlException, UnicodeError, OSError) as exc:
        raise DataError(reason(exc)) from None
