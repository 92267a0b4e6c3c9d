"""Runs the README's query over several clinics' datasets (made by
`trinvis export`) with DuckDB and prints, as JSON, the sessions per clinic
and the rows of the query.

usage: clinics.py PARENT_DIR CLINIC_DIR...   (each CLINIC_DIR inside PARENT_DIR)"""

import json
import os
import sys

import duckdb

# The README's query, verbatim apart from the list of datasets.
QUERY = """
SELECT regexp_extract(filename, '([^/]+)/steps/', 1) AS clinic,
       scenario_id, step,
       round(avg(suds_drop), 1) AS mean_drop,
       count(DISTINCT session)  AS sessions
FROM read_parquet(DATASETS, hive_partitioning = true, union_by_name = true, filename = true)
GROUP BY ALL ORDER BY clinic, scenario_id, step;
"""


def main(parent: str, clinics: list) -> None:
    os.chdir(parent)
    datasets = "[" + ", ".join(f"'{c}/steps/*/*.parquet'" for c in clinics) + "]"
    db = duckdb.connect()
    rows = db.sql(QUERY.replace("DATASETS", datasets)).fetchall()
    sessions = db.sql(
        f"""SELECT regexp_extract(filename, '([^/]+)/steps/', 1), count(DISTINCT session)
            FROM read_parquet({datasets}, hive_partitioning = true, union_by_name = true, filename = true)
            GROUP BY ALL"""
    ).fetchall()
    print(json.dumps({"sessions": {c: n for c, n in sessions}, "rows": len(rows)}, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
