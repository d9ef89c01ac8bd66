"""httptools keeps only the path of `GET http://host/path`; keep the target as sent instead."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class OriginFormHttpToolsProtocol(HttpToolsProtocol):
    """Puts an absolute-form target into `raw_path` whole, where the target guard refuses it."""

    def on_headers_complete(self) -> None:
        """Build the scope as uvicorn does, then restore a non-origin-form target."""
        target = self.url
        super().on_headers_complete()
        if not target.startswith(b"/") and "raw_path" in self.scope:
            self.scope["raw_path"] = target.split(b"?", 1)[0]
