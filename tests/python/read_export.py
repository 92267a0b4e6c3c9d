"""Reads a dataset written by `trinvis export` with DuckDB (a reader nobody
on this project wrote) and prints, as JSON: the rows of every table per
session, the SUDS ratings, the per-step rows, and the README's query of the
mean SUDS drop per step across sessions.

usage: read_export.py DIR csv|parquet"""

import json
import sys

import duckdb

TABLES = ["telemetry", "events", "suds", "heart_rate", "commands", "acks", "annotations", "steps", "sessions"]


def scan(directory: str, fmt: str, table: str) -> str:
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    return f"{reader}('{directory}/{table}/*/*.{fmt}', hive_partitioning = true, union_by_name = true)"


def main(directory: str, fmt: str) -> None:
    db = duckdb.connect()
    out: dict = {"rows": {}}
    for table in TABLES:
        rows = db.sql(f"SELECT session, count(*) FROM {scan(directory, fmt, table)} GROUP BY session").fetchall()
        out["rows"][table] = {session: n for session, n in rows}
    out["suds"] = db.sql(
        f"SELECT session_id, session_us, value, step FROM {scan(directory, fmt, 'suds')} ORDER BY session_id, seq"
    ).fetchall()
    out["steps"] = db.sql(
        f"""SELECT session_id, step, step_id, visit, suds_first, suds_peak, suds_final, time_on_step_s,
                   gaze_on_stimulus_fraction, step_title
            FROM {scan(directory, fmt, 'steps')} ORDER BY session_id, entered_us"""
    ).fetchall()
    out["telemetry"] = db.sql(
        f"""SELECT session_id, count(*), sum(session_us), sum(heart_rate_bpm), count(*) FILTER (WHERE gaze_on_stimulus),
                   min(patient_code), min(scenario_id)
            FROM {scan(directory, fmt, 'telemetry')} GROUP BY session_id ORDER BY session_id"""
    ).fetchall()
    # The README's query, verbatim apart from the folder.
    out["mean_drop"] = db.sql(
        f"""SELECT scenario_id, step, step_id, round(avg(suds_drop), 1) AS mean_drop,
                   round(avg(suds_drop_ratio), 2) AS mean_drop_ratio, count(DISTINCT session) AS sessions
            FROM {scan(directory, fmt, 'steps')}
            WHERE suds_drop IS NOT NULL
            GROUP BY ALL ORDER BY scenario_id, step"""
    ).fetchall()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
