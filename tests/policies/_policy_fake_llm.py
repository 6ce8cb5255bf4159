"""A small OpenAI-compatible chat server on loopback for tests: real HTTP, scripted answers.

Answers are chosen by the request: the prompt id on the first line of the system message
(``ltm-prompt: extract-facts/v1``) and a substring of the user message. A rule answers with a
JSON-encodable object (sent as the message content) or with an HTTP status to fail with.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Rule:
    prompt: str  # prompt id, e.g. "extract-facts/v1"; "*" matches any
    needle: str  # substring of the user message; "" matches any
    answer: Any = None  # object -> JSON content; str -> raw content
    status: int = 200
    times: int | None = None  # None = forever


@dataclass
class FakeLLM:
    rules: list[Rule] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def on(self, prompt: str, needle: str = "", answer: Any = None, *, status: int = 200,
           times: int | None = None) -> None:
        self.rules.append(Rule(prompt, needle, answer, status, times))

    def prompts(self) -> list[str]:
        return [r["prompt"] for r in self.requests]

    def _match(self, prompt: str, user: str) -> Rule | None:
        for rule in self.rules:
            if rule.times == 0:
                continue
            if rule.prompt in ("*", prompt) and rule.needle in user:
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None


def start(fake: FakeLLM) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
            user = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
            first = system.split("\n", 1)[0]
            prompt = first.removeprefix("ltm-prompt: ") if first.startswith("ltm-prompt") else ""
            fake.requests.append({"path": self.path, "prompt": prompt, "body": body,
                                  "auth": self.headers.get("Authorization")})
            rule = fake._match(prompt, user) if self.path.endswith("/chat/completions") else None
            if rule is None:
                self._send(404, {"error": f"no scripted answer for {prompt!r}"})
                return
            if rule.status != 200:
                self._send(rule.status, {"error": "scripted failure"})
                return
            content = rule.answer if isinstance(rule.answer, str) else json.dumps(rule.answer)
            self._send(200, {"id": "x", "object": "chat.completion", "model": body["model"],
                             "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                 "role": "assistant", "content": content}}],
                             "usage": {"prompt_tokens": 100, "completion_tokens": 20,
                                       "total_tokens": 120}})

        def _send(self, status: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    return server
