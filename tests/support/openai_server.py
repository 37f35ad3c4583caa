"""A local OpenAI-compatible chat-completions server that answers from a script and records requests.

Real HTTP on loopback, so the client library's own request building, retries, timeouts and
structured-output parsing all run. It answers ``/v1/chat/completions`` (OpenAI and compatible
servers) and ``/openai/deployments/<name>/chat/completions`` (Azure OpenAI), in the shape the
request asked for: ``response_format`` json_schema answers in ``message.content``, a forced tool
call answers in ``message.tool_calls``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``content`` is sent as written when a str, as JSON otherwise."""

    content: str | dict[str, Any] = ""
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering (a timeout test sleeps past the client's)
    prompt_tokens: int = 100
    completion_tokens: int = 20


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    def text(self) -> str:
        """Everything the client sent in the messages, joined: what a leak check reads."""
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))


@dataclass
class _State:
    script: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    content = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    finish = "stop"
    tool_choice = body.get("tool_choice")
    if body.get("tools") and tool_choice not in (None, "none", "auto"):
        forced = tool_choice if isinstance(tool_choice, dict) else body["tools"][0]
        name = forced["function"]["name"]
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": content}}]}
        finish = "tool_calls"
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model") or "deployment", "system_fingerprint": "fp_test",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                  "total_tokens": reply.prompt_tokens + reply.completion_tokens},
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - the http.server naming
        state = self.server.state
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path.split("?", 1)[0]
        with state.lock:
            state.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            reply = state.script.popleft() if state.script else None
        if not (path == "/v1/chat/completions" or
                (path.startswith("/openai/deployments/") and path.endswith("/chat/completions"))):
            return self._send(404, {"error": {"message": f"no route {path}", "type": "not_found"}})
        if reply is None:
            return self._send(500, {"error": {"message": "the test script has no reply left", "type": "server_error"}})
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            return self._send(reply.status, {"error": {"message": "scripted failure", "type": "server_error"}})
        self._send(200, _completion(body, reply))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("retry-after-ms", "10")  # the client's retry waits 10 ms, not seconds
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


class OpenAIServer:
    """``with OpenAIServer() as srv:`` then ``srv.push(Reply(...))``; ``srv.base_url`` for the client."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[Recorded]:
        with self._server.state.lock:
            return list(self._server.state.requests)

    def push(self, *replies: Reply) -> None:
        with self._server.state.lock:
            self._server.state.script.extend(replies)

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
