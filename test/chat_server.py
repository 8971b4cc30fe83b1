"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 for tests.

Each POST to /v1/chat/completions takes the next scripted reply (status, JSON body or
raw bytes, delay, headers). When the script is empty, it replies with `default_answer`.
GET /v1/models lists `models`. Every request is recorded with its headers and body.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import time
from typing import Any, Dict, List, Optional


@dataclasses.dataclass
class Reply:
    status: int = 200
    body: Any = None
    delay_s: float = 0.0
    headers: Dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Recorded:
    method: str
    path: str
    headers: Dict[str, str]
    body: Optional[dict]


def answer(text: str, finish_reason: str = 'stop', **message_fields) -> dict:
    """Return a chat-completions response body with one choice."""
    return {'id': 'chatcmpl-test', 'object': 'chat.completion', 'model': 'test-model',
            'choices': [{'index': 0, 'finish_reason': finish_reason,
                         'message': {'role': 'assistant', 'content': text, **message_fields}}]}


class ChatServer:
    """Threaded HTTP server on 127.0.0.1 with a free port; use as a context manager."""

    def __init__(self, models=('test-model',), default_answer: str = 'Make it a clear day.'):
        self.script: List[Reply] = []
        self.requests: List[Recorded] = []
        self.models = list(models)
        self.default_answer = default_answer
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                server._record(self, None)
                if self.path.rstrip('/') == '/v1/models':
                    self._send(Reply(body={'object': 'list', 'data': [
                        {'id': name, 'object': 'model'} for name in server.models]}))
                else:
                    self._send(Reply(404, {'error': {'message': f'no route {self.path}'}}))

            def do_POST(self) -> None:
                length = int(self.headers.get('Content-Length', 0))
                server._record(self, json.loads(self.rfile.read(length) or b'null'))
                if self.path != '/v1/chat/completions':
                    self._send(Reply(404, {'error': {'message': f'no route {self.path}'}}))
                    return
                reply = server.script.pop(0) if server.script else Reply(
                    body=answer(server.default_answer))
                time.sleep(reply.delay_s)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}/v1'
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def _record(self, handler, body: Optional[dict]) -> None:
        self.requests.append(Recorded(handler.command, handler.path, dict(handler.headers), body))

    def __enter__(self) -> 'ChatServer':
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
