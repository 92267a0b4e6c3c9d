"""Reads a Trinvis recording with Python's `mcap` package (a reader nobody
on this project wrote) and prints, as JSON: the profile, the `trinvis`
metadata, and per channel the message count, the schema name and encoding,
whether the schema and every payload decoded as JSON, and the count the
file's summary (its index) gives. For `foxglove.CompressedImage` channels
it also decodes each image's base64 data and checks it is a JPEG file that
Pillow opens (when Pillow is installed), and gives the pictures' sizes."""

import base64
import io
import json
import sys

from mcap.reader import make_reader


def check_image(entry: dict, payload: dict, log_time_ns: int) -> None:
    """foxglove.CompressedImage as Foxglove reads it: a timestamp, a format,
    and base64 data that is an image of that format."""
    images = entry.setdefault("images", {"jpeg": 0, "pillow": None, "sizes": [], "stamp_matches_log_time": True})
    data = base64.b64decode(payload["data"], validate=True)
    stamp = payload["timestamp"]["sec"] * 1_000_000_000 + payload["timestamp"]["nsec"]
    images["stamp_matches_log_time"] &= stamp == log_time_ns
    if payload["format"] == "jpeg" and data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9":
        images["jpeg"] += 1
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(io.BytesIO(data)) as picture:
        picture.load()
        images["pillow"] = picture.format
        images["sizes"].append(list(picture.size))


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
                payload = json.loads(message.data)
            except ValueError:
                entry["json"] = False
                continue
            if schema.name == "foxglove.CompressedImage":
                check_image(entry, payload, message.log_time)
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
