"""``python -m tests.auxil.chat_server``: the fake Slack Web API (:class:`tests.fakes.slack.FakeSlack`) in a
process of its own, for benchmarks whose workers report into a chat over HTTP.

Prints two lines, then serves until SIGTERM or SIGINT::

    SLACK_API_URL=http://127.0.0.1:P/api/
    CONTROL_URL=http://127.0.0.1:Q

``GET CONTROL_URL/messages`` answers ``{"messages": [{"channel", "text", "thread_ts", "at"}, …]}``: every
successful ``chat.postMessage``, oldest first (``at`` is ``time.time()`` when it arrived); ``GET
CONTROL_URL/count`` answers ``{"count": n}``.
"""

from __future__ import annotations

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot import heap
from tests.fakes.slack import FakeSlack

BOT_TOKEN = "xoxb-herald-bench-token"


def _messages(fake: FakeSlack) -> list[dict[str, Any]]:
    found = []
    for call in fake.calls("chat.postMessage"):
        response = call.response
        if call.status == 200 and isinstance(response, dict) and response.get("ok"):
            found.append(
                {
                    "channel": call.args.get("channel"),
                    "text": call.args.get("text") or "",
                    "thread_ts": call.args.get("thread_ts"),
                    "at": call.at,
                }
            )
    return found


def main() -> None:
    fake = FakeSlack(bot_token=BOT_TOKEN).start()

    class Control(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/messages":
                body = json.dumps({"messages": _messages(fake)}).encode()
            elif self.path == "/count":
                body = json.dumps({"count": len(_messages(fake))}).encode()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    threading.Thread(target=control.serve_forever, name="chat-control", daemon=True).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # a stand-in for a server on other machines: spend as little of the benchmark's CPU as Herald's own
    # processes do in the cyclic garbage collector (bot/heap.py)
    heap.settle()
    print(f"SLACK_API_URL={fake.base_url}", flush=True)
    print(f"CONTROL_URL=http://127.0.0.1:{control.server_address[1]}", flush=True)
    try:
        stop.wait()
    finally:
        control.shutdown()
        fake.stop()


if __name__ == "__main__":
    main()
