"""A stored file served with HTTP Range (RFC 9110 §14), so that a browser's `<audio>` seeks in a recording
without downloading it first. One range per request (what media elements ask for); several ranges are
answered with the whole file, as the RFC allows."""
from __future__ import annotations

import re

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse

BLOCK = 64 * 1024
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """The (first, last) byte positions `header` asks for in a file of `size` bytes; None when the whole file
    is answered (no header, one not understood, several ranges); False when it asks for nothing there is."""
    match = RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        return (max(0, size - length), size - 1) if length and size else False
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        return False
    return start, end


def ranged_file(request: HttpRequest, file, size: int, content_type: str, filename: str,
                download: bool = False) -> HttpResponse:
    """Answer `request` with `file` (open, binary, seekable; closed by the response)."""
    wanted = byte_range(request.headers.get("Range", ""), size)
    if wanted is False:
        file.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    elif wanted is None:
        response = FileResponse(file, content_type=content_type, as_attachment=download, filename=filename)
    else:
        start, end = wanted
        file.seek(start)
        response = StreamingHttpResponse(_blocks(file, end - start + 1), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
        if download:
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"  # a recording is personal data: kept by no shared cache
    return response


def _blocks(file, length: int):
    try:
        while length > 0:
            block = file.read(min(BLOCK, length))
            if not block:
                return
            length -= len(block)
            yield block
    finally:
        file.close()
