"""multipart/form-data uploads (the audio endpoints), parsed strictly after RFC 7578 and
forwarded as a body the gateway writes itself: what Groq parses is exactly what was checked
and priced, whatever a hostile client put between the boundaries.

Refused with a 400: a body that is not multipart/form-data or has no boundary, a part without
a ``form-data`` disposition or a name, headers folded or not in UTF-8, a non-identity
transfer encoding, a field named twice (whatever the case or a ``[]`` suffix; the one array
field excepted), no closing boundary.

Example::

    form = parse_form(body, request.headers["content-type"])
    model = form.text("model")
    body, content_type = form.with_text("response_format", "verbose_json").encode()
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace

from groq_gateway.core.errors import GatewayError

MAX_PARTS = 64
# RFC 2046 boundary characters (a space only inside).
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Field names the gateway writes back unchanged: no quote, backslash or percent sign that
# another parser could decode into a different name.
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,128}")
_IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})
# The audio endpoints' one array field; any other name may appear once.
ARRAY_FIELDS = frozenset({"timestamp_granularities"})


def field_key(name: str) -> str:
    """What a field name means to the most lenient reader: case and a ``[]`` suffix ignored
    (so neither ``Model`` nor ``model[]`` passes beside ``model``)."""
    return name.lower().removesuffix("[]")


def malformed(message: str, *, param: str | None = "file") -> GatewayError:
    return GatewayError(400, message, code="invalid_multipart", param=param)


@dataclass(frozen=True)
class FormPart:
    name: str
    content: bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Form:
    parts: tuple[FormPart, ...]

    def named(self, name: str) -> list[FormPart]:
        """The parts named ``name``, compared by :func:`field_key`."""
        return [part for part in self.parts if field_key(part.name) == field_key(name)]

    def text(self, name: str) -> str | None:
        """The text field ``name`` (UTF-8), ``None`` when absent; a 400 for a file part or
        bytes that are not UTF-8."""
        found = self.named(name)
        if not found:
            return None
        [part] = found  # parse_form refuses repeated names
        if part.filename is not None:
            raise malformed(f"'{name}' must be a text field, not a file.", param=name)
        try:
            return part.content.decode("utf-8")
        except UnicodeDecodeError as error:
            raise malformed(f"'{name}' is not UTF-8 text.", param=name) from error

    def has(self, name: str) -> bool:
        return bool(self.named(name))

    def with_text(self, name: str, value: str) -> Form:
        """The form with the text field ``name`` set to ``value`` (in place, or added)."""
        part = FormPart(name=name, content=value.encode())
        if not self.has(name):
            return replace(self, parts=(*self.parts, part))
        key = field_key(name)
        return replace(
            self, parts=tuple(part if field_key(p.name) == key else p for p in self.parts)
        )

    def encode(self) -> tuple[bytes, str]:
        """The body the gateway forwards and its ``Content-Type``: a fresh boundary found in
        no part, names and file names quoted as browsers do (``"`` CR LF percent-encoded)."""
        boundary = secrets.token_hex(16)
        while any(boundary.encode() in part.content for part in self.parts):
            boundary = secrets.token_hex(16)  # pragma: no cover - 2**-128 per part
        delimiter = b"--" + boundary.encode()
        chunks: list[bytes] = []
        for part in self.parts:
            disposition = f'form-data; name="{_quote(part.name)}"'
            if part.filename is not None:
                disposition += f'; filename="{_quote(part.filename)}"'
            head = f"Content-Disposition: {disposition}\r\n"
            if part.content_type is not None:
                head += f"Content-Type: {part.content_type}\r\n"
            chunks += [delimiter, b"\r\n", head.encode(), b"\r\n", part.content, b"\r\n"]
        chunks += [delimiter, b"--\r\n"]
        return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def parse_form(body: bytes, content_type: str) -> Form:
    """The parts of a multipart/form-data ``body``, or a 400 :class:`GatewayError`."""
    media_type, params = parse_header_value(content_type, what="Content-Type", param=None)
    if media_type.lower() != "multipart/form-data":
        raise malformed("The request body must be multipart/form-data.", param=None)
    boundary = params.get("boundary")
    if boundary is None or not _BOUNDARY.fullmatch(boundary):
        raise malformed("The multipart/form-data Content-Type has no valid boundary.", param=None)
    delimiter = b"--" + boundary.encode()
    if body.startswith(delimiter):
        position = len(delimiter)
    else:  # a preamble, ignored
        first = body.find(b"\r\n" + delimiter)
        if first < 0:
            raise malformed("The multipart body has no part for its boundary.")
        position = first + 2 + len(delimiter)
    parts: list[FormPart] = []
    while True:
        if body.startswith(b"--", position):
            break  # the closing delimiter; what follows is an epilogue, ignored
        while body[position : position + 1] in (b" ", b"\t"):
            position += 1  # transport padding
        if not body.startswith(b"\r\n", position):
            raise malformed("A multipart boundary is not followed by a line break.")
        position += 2
        end = body.find(b"\r\n" + delimiter, position)
        if end < 0:
            raise malformed("The multipart body has no closing boundary.")
        parts.append(_part(body[position:end]))
        if len(parts) > MAX_PARTS:
            raise malformed(f"The multipart body has more than {MAX_PARTS} parts.")
        position = end + 2 + len(delimiter)
    names = [field_key(part.name) for part in parts]
    repeated = sorted({n for n in names if names.count(n) > 1 and n not in ARRAY_FIELDS})
    if repeated:
        param = "model" if "model" in repeated else repeated[0]
        raise malformed(f"The form names '{repeated[0]}' more than once.", param=param)
    return Form(tuple(parts))


def _part(raw: bytes) -> FormPart:
    if raw.startswith(b"\r\n"):
        head, content = b"", raw[2:]
    else:
        head, separator, content = raw.partition(b"\r\n\r\n")
        if not separator:
            raise malformed("A multipart part has no blank line after its headers.")
    headers: dict[str, str] = {}
    for line in head.split(b"\r\n") if head else []:
        if line[:1] in (b" ", b"\t"):
            raise malformed("A multipart part has a folded header line.")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise malformed("A multipart part header is not UTF-8.") from error
        name, colon, value = text.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise malformed("A multipart part has a malformed header line.")
        if name.lower() in headers:
            raise malformed(f"A multipart part repeats its {name} header.")
        if any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in value):
            raise malformed("A multipart part header has control characters.")
        headers[name.lower()] = value.strip(" \t")
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise malformed("A multipart part has no Content-Disposition header.")
    kind, params = parse_header_value(disposition, what="Content-Disposition")
    if kind.lower() != "form-data":
        raise malformed("A multipart part's Content-Disposition is not form-data.")
    field_name = params.get("name")
    if not field_name:
        raise malformed("A multipart part has no name.")
    if not _FIELD_NAME.fullmatch(field_name):
        raise malformed("A multipart part's name has characters a form field name cannot have.")
    encoding = headers.get("content-transfer-encoding")
    if encoding is not None and encoding.lower() not in _IDENTITY_ENCODINGS:
        raise malformed("Multipart parts must not use a Content-Transfer-Encoding.")
    part_type = headers.get("content-type")
    if part_type is not None:
        # The media type alone: a parameter (``name=...`` among them) is nothing Groq needs
        # and something another parser might read as the field's name.
        part_type, _ = parse_header_value(part_type, what="part's Content-Type")
        if part_type.count("/") != 1:
            raise malformed("A multipart part's Content-Type is not a media type.")
    return FormPart(
        name=field_name,
        content=content,
        filename=params.get("filename"),
        content_type=part_type or None,
    )


def parse_header_value(
    text: str, *, what: str, param: str | None = "file"
) -> tuple[str, dict[str, str]]:
    """``value; name=token; name="quoted"`` (RFC 9110) -> ``(value, {name: value})``, with
    parameter names in lower case; a 400 for anything else, a parameter named twice, or an
    extended (``name*``) parameter, which parsers read differently."""
    value, semicolon, rest = text.partition(";")
    value = value.strip(" \t")
    if not _TOKEN.fullmatch(value.replace("/", "")):
        raise malformed(f"The {what} header is malformed.", param=param)
    params: dict[str, str] = {}
    position = 0
    rest = semicolon + rest
    while position < len(rest):
        position = _skip_spaces(rest, position)
        if position >= len(rest):
            break
        if rest[position] != ";":
            raise malformed(f"The {what} header is malformed.", param=param)
        position = _skip_spaces(rest, position + 1)
        match = _TOKEN.match(rest, position)
        if match is None:
            raise malformed(f"The {what} header is malformed.", param=param)
        name = match.group().lower()
        position = _skip_spaces(rest, match.end())
        if not rest.startswith("=", position):
            raise malformed(f"The {what} header has a parameter without a value.", param=param)
        position = _skip_spaces(rest, position + 1)
        if rest.startswith('"', position):
            param_value, position = _quoted(rest, position, what, param)
        else:
            match = _TOKEN.match(rest, position)
            if match is None:
                raise malformed(f"The {what} header is malformed.", param=param)
            param_value, position = match.group(), match.end()
        if name.endswith("*"):
            raise malformed(f"The {what} header has an extended parameter ({name}).", param=param)
        if name in params:
            raise malformed(f"The {what} header names '{name}' more than once.", param=param)
        params[name] = param_value
    return value, params


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t":
        position += 1
    return position


def _quoted(text: str, start: int, what: str, param: str | None) -> tuple[str, int]:
    """The quoted string at ``start`` (backslash escapes undone) and the position after it."""
    out: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == '"':
            return "".join(out), position + 1
        if char == "\\" and position + 1 < len(text):
            position += 1
            char = text[position]
        out.append(char)
        position += 1
    raise malformed(f"The {what} header has an unterminated quoted string.", param=param)


def _quote(text: str) -> str:
    """A name or file name inside double quotes, as the HTML standard writes it (and a
    backslash too, which RFC parsers read as an escape)."""
    for char, code in (('"', "%22"), ("\\", "%5C"), ("\r", "%0D"), ("\n", "%0A")):
        text = text.replace(char, code)
    return text
