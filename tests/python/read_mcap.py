"""Reads a Trinvis recording with Python's `mcap` package (a reader nobody
on this project wrote) and prints, as JSON: the profile, the `trinvis`
metadata, and per channel the message count, the schema name and encoding,
whether the schema and every payload decoded as JSON, and the count the
file's summary (its index) gives."""

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
        summary = reader.get_summary()
    for channel_id, channel in summary.channels.items():
        entry = channels.setdefault(channel.topic, {"count": 0})
        entry["summary_count"] = summary.statistics.channel_message_counts.get(channel_id, 0)
        try:
            json.loads(summary.schemas[channel.schema_id].data)
            entry["schema_json"] = True
        except ValueError:
            entry["schema_json"] = False
    print(json.dumps({"profile": profile, "metadata": metadata, "channels": channels}, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
