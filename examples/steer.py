#!/usr/bin/env python3
"""steer.py: a small steering client for a Trinvis console (wire protocol v1).

Written from docs/protocol.md alone. Needs Python 3.11+ and `websockets` >= 15.

    python3 examples/steer.py --console http://127.0.0.1:7450 --token T \
        [--session ID] [--script "start; level 3; wait 5; safe"]

Script steps, separated by `;`: start, level X, step N, next, previous, accept,
pause, resume, safe, stop, suds N (a rating said aloud), ask (request SUDS),
marker TEXT, note TEXT, wait SECONDS. A command step prefixed with `?`
(e.g. `?accept`) may fail without making the run fail. The console passes
the same command on only once within 1.5 s (`next; next` needs a `wait`
between) and a raise of more than one step only confirmed: `level` and
`step` are sent confirmed.
Exit status: 0 all commands ok, 1 a command failed or the link broke,
2 bad arguments or no connection / no session.
"""
import argparse
import asyncio
import json
import sys
import time
import urllib.parse

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

# Script word -> (command type, field name or None, parser for the field), doc §5.1.
COMMANDS = {
    "start": ("start", None, None), "level": ("set_level", "level", float),
    "step": ("go_to_step", "step", int), "next": ("next_step", None, None),
    "previous": ("previous_step", None, None), "accept": ("accept_suggestion", None, None),
    "pause": ("pause", None, None), "resume": ("resume", None, None),
    "safe": ("safe_scene", None, None), "stop": ("stop", None, None),
    "suds": ("record_suds", "value", int), "ask": ("request_suds", None, None),
    "marker": ("marker", "label", str), "note": ("note", "text", str),
}
RESULT_TIMEOUT_S = 15  # the console itself fails an unanswered command after 10-12 s (§7.2)


def parse_script(script):
    """Turn "start; level 3; wait 5" into [("cmd", {...}, may_fail, text) | ("wait", s, _, text)]."""
    steps = []
    for raw in filter(None, (s.strip() for s in script.split(";"))):
        may_fail, text = raw.startswith("?"), raw.lstrip("?").strip()
        word, _, arg = text.partition(" ")
        arg = arg.strip()
        if word == "wait":
            steps.append(("wait", float(arg), False, text))
            continue
        if word not in COMMANDS:
            raise ValueError(f"unknown step {raw!r}")
        ctype, field, conv = COMMANDS[word]
        command = {"type": ctype}
        if field:
            if not arg:
                raise ValueError(f"step {raw!r} needs a value")
            command[field] = conv(arg)
        steps.append(("cmd", command, may_fail, text))
    return steps


def fmt_event(ev):
    """One line per session event (§6): session time, kind, its fields."""
    fields = {k: v for k, v in ev.items() if k not in ("seq", "at_us", "type")}
    show = lambda v: "-" if v is None else f"{v:.4g}" if isinstance(v, float) else v
    if ev["type"] == "step_left":  # summarise the StepStats object
        s = fields.pop("stats")
        fields["step"] = f'{s["step"]} {s["id"]} ({s["time_on_step_us"] / 1e6:.0f} s, ' \
                         f'SUDS peak {show(s["suds_peak"])} last {show(s["suds_last"])})'
    rest = " ".join(f"{k}={show(v)}" for k, v in fields.items())
    return f'  event {ev["at_us"] / 1e6:7.1f}s {ev["type"]} {rest}'.rstrip()


class Steer:
    def __init__(self, ws):
        self.ws, self.session, self.sessions = ws, None, []
        self.request_id, self.last_telemetry_print = 0, 0.0

    async def recv(self, deadline):
        """Next JSON message before `deadline` (monotonic), or None on timeout."""
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            return json.loads(await asyncio.wait_for(self.ws.recv(), left))
        except asyncio.TimeoutError:
            return None

    def show(self, msg):
        """Print whatever the console pushes, compactly (§4.5)."""
        kind = msg.get("type")
        if kind == "sessions":
            old = {s["session_id"]: (s["state"], s["link"]) for s in self.sessions}
            self.sessions = msg["sessions"]
            for s in self.sessions:  # only report changes of the session we steer
                now = (s["state"], s["link"])
                if s["session_id"] == self.session and old.get(self.session) != now:
                    print(f"  session now {now[0]}, headset {now[1]}")
        elif kind == "telemetry" and msg["session_id"] == self.session:
            if time.monotonic() - self.last_telemetry_print >= 1.0:
                self.last_telemetry_print = time.monotonic()
                s = msg["batch"]["samples"][-1]
                hr = f' HR {s["heart_rate"]:.0f}' if "heart_rate" in s else ""
                print(f'  {s["session_us"] / 1e6:7.1f}s {s["state"]:<10} step {s["step"]:<2} '
                      f'target {s["target_level"]:.2f} applied {s["applied_level"]:.2f}{hr}')
        elif kind == "events" and msg["session_id"] == self.session:
            for ev in msg["batch"]["events"]:
                print(fmt_event(ev))
        elif kind == "dropped":
            print(f'  ({msg["telemetry_batches"]} telemetry batches dropped: this client is slow)')
        elif kind == "error":
            print(f'  console error {msg["code"]}: {msg["message"]}')

    async def wait(self, seconds):
        deadline = time.monotonic() + seconds
        while (msg := await self.recv(deadline)) is not None:
            self.show(msg)

    async def command(self, command):
        """Send one command; return (ok, error text) from its command_result (§4.4.4)."""
        self.request_id += 1
        request = {"type": "command", "session_id": self.session, "request_id": self.request_id, "command": command}
        # A script's level or step is its author's decision, made when it was written:
        # sent confirmed, so a raise of more than one step is not refused (§4.4.4).
        if command["type"] in ("set_level", "go_to_step"):
            request["confirmed"] = True
        await self.ws.send(json.dumps(request))
        deadline = time.monotonic() + RESULT_TIMEOUT_S
        while (msg := await self.recv(deadline)) is not None:
            if msg.get("type") == "command_result" and msg["request_id"] == self.request_id:
                return msg["ok"], f'{msg.get("code")}: {msg.get("error", "")}'
            if msg.get("type") == "error" and msg["code"] == "malformed":
                # A malformed command gets an error without request_id, no command_result.
                return False, f'malformed: {msg["message"]}'
            self.show(msg)
        return False, f"no command_result within {RESULT_TIMEOUT_S} s"


def browser_url(console, token):
    """http://host:port -> (ws://host:port/ws/browser?token=T, Origin matching our Host)."""
    u = urllib.parse.urlsplit(console)
    secure = u.scheme in ("https", "wss")
    host = u.hostname if u.port in (None, 443 if secure else 80) else f"{u.hostname}:{u.port}"
    query = urllib.parse.urlencode({"token": token})
    return f'{"wss" if secure else "ws"}://{host}/ws/browser?{query}', \
        f'{"https" if secure else "http"}://{host}'


async def main(args):
    steps = parse_script(args.script)
    url, origin = browser_url(args.console, args.token)
    try:  # subprotocol trinvis.v1, token in the query, Origin = http://<Host> (§1.2)
        ws = await connect(url, subprotocols=["trinvis.v1"], origin=origin, proxy=None)
    except InvalidStatus as e:
        print(f"console refused: HTTP {e.response.status_code} "
              f"{e.response.body.decode(errors='replace').strip()}")
        return 2
    except OSError as e:
        print(f"cannot reach the console at {args.console}: {e}")
        return 2
    async with ws:
        steer = Steer(ws)
        # The session list arrives at once on connect; wait up to 10 s for a headset.
        deadline = time.monotonic() + 10
        while (msg := await steer.recv(deadline)) is not None:
            steer.show(msg)
            ids = [s["session_id"] for s in steer.sessions]
            if msg.get("type") == "sessions" and ids and (args.session in ids or not args.session):
                break
        print(f"{len(steer.sessions)} session(s):")
        for s in steer.sessions:
            print(f'  {s["session_id"]}  patient {s["patient_code"]}  scenario {s["scenario"]["id"]} '
                  f'{s["scenario"]["version"]}  {s["state"]}, headset {s["link"]}  '
                  f'since {s["started"]}  -> {s["recording"]}')
        ids = [s["session_id"] for s in steer.sessions]
        steer.session = args.session or (ids[0] if ids else None)
        if steer.session not in ids:
            print(f"no session {steer.session}" if args.session else "no session to steer")
            return 2
        await ws.send(json.dumps({"type": "subscribe", "session_id": steer.session}))
        print(f"steering {steer.session}")

        failed = 0
        for kind, value, may_fail, text in steps:
            if kind == "wait":
                print(f"> {text}")
                await steer.wait(value)
                continue
            ok, error = await steer.command(value)
            print(f"> {text}: " + ("ok" if ok else f"FAILED ({error})"
                                    + (" - tolerated" if may_fail else "")))
            failed += not ok and not may_fail
        await steer.wait(1.0)  # show the events the last command caused
        if failed:
            print(f"{failed} command(s) failed")
        return 1 if failed else 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--console", required=True, help="console URL, e.g. http://127.0.0.1:7450")
    p.add_argument("--token", required=True, help="the therapist token")
    p.add_argument("--session", help="session id (default: the first, i.e. newest, one)")
    p.add_argument("--script", default="", help='steps, e.g. "start; level 3; wait 5; safe"')
    a = p.parse_args()
    try:
        sys.exit(asyncio.run(main(a)))
    except ValueError as e:
        print(f"bad script: {e}", file=sys.stderr)
        sys.exit(2)
    except ConnectionClosed as e:
        print(f"the console closed the connection: {e}")
        sys.exit(1)
