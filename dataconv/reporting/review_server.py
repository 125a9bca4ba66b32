"""The local web page of ``dataconv review``: the standard library's ThreadingHTTPServer
bound to 127.0.0.1.

- Every request carries the session's random token in its query (``?token=``); any other
  request gets 403, whatever its path or method.
- The page is ``review_static/`` (HTML, script, style; the page shows labels with
  ``textContent`` only, and its Content-Security-Policy allows no inline script).
- Images come from the dataset by row number (``review.DatasetImages``), never by a path
  taken from the request.
- The handler threads only parse requests and write responses. Everything that reads the
  dataset or touches the session runs on the main thread (``Jobs``), one job at a time, so
  the corrections file has one writer and a stop signal lands where the command can
  finish its write and stop cleanly.
"""
from __future__ import annotations

import hmac
import json
import queue
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from dataconv.reporting.review import Conflict, DatasetImages, Session

HOST = "127.0.0.1"
MAX_BODY = 64 * 1024
JOB_TIMEOUT = 60.0  # seconds a request waits for the main thread
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
STATIC = {"/": ("review.html", "text/html; charset=utf-8"),
          "/review.js": ("review.js", "text/javascript; charset=utf-8"),
          "/review.css": ("review.css", "text/css; charset=utf-8")}


@dataclass
class _Job:
    run: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: Exception | None = None


class Jobs:
    """Work handed from the handler threads to the main thread, done in arrival order."""

    def __init__(self) -> None:
        self._queue: queue.Queue[_Job] = queue.Queue()

    def call(self, run: Callable[[], Any]) -> Any:
        """From a handler thread: ``run()`` on the main thread; its result, or its exception."""
        job = _Job(run)
        self._queue.put(job)
        if not job.done.wait(JOB_TIMEOUT):
            raise TimeoutError("the review is busy or stopping; try again")
        if job.error is not None:
            raise job.error
        return job.result

    def serve(self) -> None:
        """On the main thread, until a stop signal: run each job as it comes."""
        while True:
            try:
                job = self._queue.get(timeout=0.5)  # wakes up for signals
            except queue.Empty:
                continue
            try:
                job.result = job.run()
            except Exception as e:  # handed to the request; a stop signal is no Exception
                job.error = e
            job.done.set()


class ReviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, token: str, session: Session, images: DatasetImages, jobs: Jobs) -> None:
        super().__init__((HOST, port), Handler)
        self.token, self.session, self.images, self.jobs = token, session, images, jobs
        folder = resources.files("dataconv.reporting") / "review_static"
        self.static = {path: ((folder / name).read_bytes(), kind) for path, (name, kind) in STATIC.items()}

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/?token={self.token}"


class Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    timeout = 30  # a connection that sends nothing is closed

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the URL and the decisions' file, not every request."""

    def _answer(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        given = (query.get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            self._send(403, b"forbidden: open the link dataconv review printed (it carries the token)\n",
                       "text/plain; charset=utf-8")
            return
        try:
            self._route(method, url.path, query)
        except Conflict as e:
            self._json(409, {"error": str(e)})
        except (ValueError, TimeoutError) as e:
            self._json(400, {"error": str(e)})
        except OSError as e:
            self._json(500, {"error": f"failed, nothing saved: {e.strerror or e}"})
        except Exception as e:  # a dataset that cannot be read: said on the page, no traceback
            self._json(500, {"error": str(e)})

    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        jobs, session = self.server.jobs, self.server.session
        if method == "GET" and path in self.server.static:
            body, kind = self.server.static[path]
            self._send(200, body.replace(b"__TOKEN__", self.server.token.encode()), kind)
        elif method == "GET" and path == "/api/state":
            self._json(200, jobs.call(session.state))
        elif method == "GET" and path == "/image":
            row = _int((query.get("row") or [""])[0])
            image = jobs.call(lambda: self.server.images.jpeg(row))
            if image is None:
                self._send(404, b"no image\n", "text/plain")
            else:
                self._send(200, image, "image/jpeg")
        elif method == "POST" and path == "/api/decide":
            body = self._body()
            self._json(200, jobs.call(lambda: session.decide(body.get("row"), body.get("action"), body.get("text"))))
        elif method == "POST" and path == "/api/undo":
            self._json(200, jobs.call(session.undo))
        else:
            self._send(404, b"not found\n", "text/plain")

    def _body(self) -> dict[str, Any]:
        length = _int(self.headers.get("Content-Length", ""))
        if not 0 <= length <= MAX_BODY:
            raise ValueError(f"a request body of 0 to {MAX_BODY} bytes is expected")
        try:
            body = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError):
            raise ValueError("the request body is not JSON") from None
        if not isinstance(body, dict):
            raise ValueError("the request body is not a JSON object")
        return body

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        for name, value in (("Content-Type", kind), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                            ("Referrer-Policy", "no-referrer"), ("Content-Security-Policy", CSP)):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"not a number: {text[:20]!r}") from None


def serve(server: ReviewServer) -> None:
    """Answer requests until a stop signal arrives on the main thread (it propagates)."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    try:
        server.jobs.serve()
    finally:
        server.shutdown()
        server.server_close()
