"""Command round trips from another process, as a therapist's browser makes
them: `./x bench-live` runs this against the console while simulated
headsets stream, and against a bare WebSocket echo server for comparison.

    round_trip.py console ws://127.0.0.1:7450 THERAPIST_TOKEN HEADSET_TOKEN --seconds 30
    round_trip.py echo ws://127.0.0.1:PORT --seconds 30

Prints one line: `round_trip mode=… n=… p50_ms=… p99_ms=… max_ms=…`.
Each client sends a command (or, to the echo server, the same text), waits
for its answer, and paces itself under the console's rate limit (10 per
second per connection); three clients run side by side.

In console mode this process is also the commands' headset, one that
answers each command at once: a real headset answers at its next frame
(up to 11 ms at 90 Hz), which would hide the console and the network
behind the frame rate.
"""

import argparse
import asyncio
import json
import time

import websockets

CLIENTS = 3
INTERVAL_S = 0.11


async def headset(url, token, ready):
    """A headset that answers every command at once."""
    async with websockets.connect(f"{url}/ws/headset?token={token}", subprotocols=["trinvis.v1"]) as ws:
        await ws.send(json.dumps({
            "type": "hello", "headset_id": "bench-rtt", "app": "round_trip.py", "patient_code": "BENCH-1",
            "scenario": {"id": "bench", "version": "1", "sha256": "00"},
            "resume_from": 1, "headset_us": 1, "session_epoch_us": 1,
        }))
        seq = 0
        async for text in ws:
            message = json.loads(text)
            if message["type"] == "welcome":
                ready.set_result(message["session_id"])
            elif message["type"] == "command":
                seq += 1
                await ws.send(json.dumps({"type": "command_ack", "seq": seq, "id": message["id"], "ok": True}))
            elif message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong", "id": message["id"], "console_us": message["console_us"],
                                          "headset_us": int(time.monotonic() * 1e6)}))


async def client(mode, url, token, seconds, times, target):
    if mode == "console":
        host = url.split("//", 1)[1]
        connect = websockets.connect(
            f"{url}/ws/browser?token={token}",
            subprotocols=["trinvis.v1"],
            origin=f"http://{host}",
            max_size=2**20,
        )
    else:
        connect = websockets.connect(url, max_size=2**20)
    async with connect as ws:
        end = time.monotonic() + seconds
        request_id = 0
        while time.monotonic() < end:
            request_id += 1
            text = json.dumps({"type": "command", "session_id": target, "request_id": request_id,
                               "command": {"type": "request_suds"}})
            started = time.perf_counter()
            await ws.send(text)
            while True:
                answer = await ws.recv()
                if mode == "echo":
                    break
                message = json.loads(answer)
                if message["type"] == "command_result" and message["request_id"] == request_id:
                    if message.get("code") == "rate_limited":
                        raise SystemExit("rate limited: pace the clients more slowly")
                    break
            times.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(INTERVAL_S)


def percentile(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))]


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["console", "echo"])
    parser.add_argument("url")
    parser.add_argument("token", nargs="?", default="")
    parser.add_argument("headset_token", nargs="?", default="")
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    times = []
    target, answering = "echo", None
    if args.mode == "console":
        ready = asyncio.get_running_loop().create_future()
        answering = asyncio.create_task(headset(args.url, args.headset_token, ready))
        target = await asyncio.wait_for(ready, 10)
    clients = (client(args.mode, args.url, args.token, args.seconds, times, target) for _ in range(CLIENTS))
    await asyncio.gather(*clients)
    if answering:
        answering.cancel()
    times.sort()
    print(
        f"round_trip mode={args.mode} n={len(times)} p50_ms={percentile(times, 50):.3f} "
        f"p99_ms={percentile(times, 99):.3f} max_ms={times[-1]:.3f}"
    )


asyncio.run(main())
