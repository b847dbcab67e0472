"""A tiny HTTP file server on 127.0.0.1 for download tests (Range support, forced cuts)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalServer:
    """A threading HTTP server on 127.0.0.1 (a free port) for ``handler``; ``url``, ``close``."""

    def serve(self, handler, poll_interval: float = 0.5, block_on_close: bool = True) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.block_on_close = block_on_close
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(poll_interval,),
                                       daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class FileServer(LocalServer):
    """Serves ``files`` (path -> bytes) with Range support; ``cut_after`` drops connections."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut_after: int | None = None
        self.ranges_seen: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server's naming
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                header = self.headers.get("Range")
                if header:
                    server.ranges_seen.append(header)
                    start = int(header.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if server.cut_after is not None:
                    self.wfile.write(payload[: server.cut_after])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the connection dies mid-body
                    return
                self.wfile.write(payload)

        self.serve(Handler)
