"""Reads a Trinvis recording with Python's `mcap` package (a reader nobody
on this project wrote) and prints, as JSON: the profile, the `trinvis`
metadata, and per channel the message count, the schema name and encoding,
and whether every payload decoded as JSON."""

import json
import sys

from mcap.reader import make_reader


def main(path: str) -> None:
    channels: dict[str, dict] = {}
    with open(path, "rb") as f:
        reader = make_reader(f)
        profile = reader.get_header().profile
        metadata = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
        for schema, channel, message in reader.iter_messages():
            entry = channels.setdefault(
                channel.topic,
                {"count": 0, "schema": schema.name, "schema_encoding": schema.encoding,
                 "message_encoding": channel.message_encoding, "json": True},
            )
            entry["count"] += 1
            try:
                json.loads(message.data)
            except ValueError:
                entry["json"] = False
    print(json.dumps({"profile": profile, "metadata": metadata, "channels": channels}, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
