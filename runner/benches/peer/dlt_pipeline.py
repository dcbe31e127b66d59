"""The dlt side of the peer benchmark (runner/benches/peer/run.sh): the same listings
`runner sync --all` makes, through dlt's declarative `rest_api` source, merged into PostgreSQL.

Settings, all dlt defaults except:
  * paginator `json_link` on `next` (DrChrono's cursor links), records under `results`;
  * `page_size` as the runner asks (250, the endpoint maximum; 25 with verbose=true);
  * `write_disposition: merge` on each record's id (a clinical note's is its appointment);
  * `max_table_nesting=0`: nested data is kept as one jsonb column, as the runner keeps it;
  * appointments in the runner's 190-day date_range windows (730 days back, 180 ahead), one
    resource per window into one table, so both tools list the same records.

Environment: SIM_URL, SIM_TOKEN (a bearer token), and dlt's own
DESTINATION__POSTGRES__CREDENTIALS. Prints one line with the rows loaded.
"""

import datetime
import os
import sys

import dlt
from dlt.sources.rest_api import rest_api_source

PAGE = 250
VERBOSE_PAGE = 25


def windows(history_days=730, future_days=180, max_days=190):
    today = datetime.datetime.now(datetime.timezone.utc).date()
    start = today - datetime.timedelta(days=history_days)
    end = today + datetime.timedelta(days=future_days)
    while start <= end:
        stop = min(start + datetime.timedelta(days=max_days - 1), end)
        yield f"{start.isoformat()}/{stop.isoformat()}"
        start = stop + datetime.timedelta(days=1)


def resource(name, path, table=None, key="id", params=None):
    return {
        "name": name,
        "table_name": table or name,
        "primary_key": key,
        "endpoint": {"path": path, "params": {"page_size": PAGE, **(params or {})}},
    }


def config():
    resources = [
        resource("doctors", "api/doctors"),
        resource("patients", "api/patients"),
        resource(
            "patients_verbose",
            "api/patients",
            params={"verbose": "true", "page_size": VERBOSE_PAGE},
        ),
        resource("clinical_notes", "api/clinical_notes", key="appointment"),
        resource("medications", "api/medications"),
        resource("problems", "api/problems"),
        resource("allergies", "api/allergies"),
        resource("line_items", "api/line_items"),
    ]
    for i, w in enumerate(windows()):
        resources.append(
            resource(f"appointments_{i}", "api/appointments", "appointments", params={"date_range": w})
        )
    return {
        "client": {
            "base_url": os.environ["SIM_URL"].rstrip("/") + "/",
            "auth": {"type": "bearer", "token": os.environ["SIM_TOKEN"]},
            "paginator": {"type": "json_link", "next_url_path": "next"},
        },
        "resource_defaults": {
            "write_disposition": "merge",
            "endpoint": {"data_selector": "results"},
        },
        "resources": resources,
    }


def main():
    source = rest_api_source(config(), max_table_nesting=0)
    pipeline = dlt.pipeline(
        pipeline_name="peer_drchrono",
        destination="postgres",
        dataset_name="drchrono",
        pipelines_dir=os.environ.get("DLT_PIPELINES_DIR"),
    )
    info = pipeline.run(source)
    rows = sum(pipeline.last_trace.last_normalize_info.row_counts.values())
    print(f"dlt {dlt.__version__}: {rows} rows normalized; {info.has_failed_jobs=}", file=sys.stderr)


if __name__ == "__main__":
    main()
