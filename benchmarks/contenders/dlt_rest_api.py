"""A dlt ``rest_api`` pipeline: the details query as the parent resource, each survey a child.

The parent resource pages ``POST /api/v2/analytics/conversations/details/query`` over the
whole range (``paging.pageNumber`` in the JSON body, until an empty page) and yields every
Finished survey listed in the conversations. The child resource reads each survey with
``GET /api/v2/quality/surveys/{surveyId}``, ``parallelized=True``. Evaluations are not read,
so this contender does fewer requests than a full export. The pipeline loads into DuckDB,
and the survey ids are then written to ``--out`` as NDJSON lines for the comparison.

dlt retries a 429 by itself and honours ``Retry-After``. Its ``OAuth2ClientCredentials``
sends the client id and secret in the form body, while Genesys Cloud expects HTTP Basic
authentication, so a subclass changes only that request.

Run: ``python -m benchmarks.contenders.dlt_rest_api --api-url URL --from DAY --to DAY
--out FILE --work DIR`` with ``GENESYS_CLOUD_CLIENT_ID`` and ``GENESYS_CLOUD_CLIENT_SECRET`` set.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PAGE_SIZE = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", required=True, help="API base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, help="day after the last, YYYY-MM-DD")
    parser.add_argument("--out", required=True, help="NDJSON file of the loaded survey ids")
    parser.add_argument("--work", required=True, help="folder for dlt's state and DuckDB file")
    arguments = parser.parse_args()

    work = Path(arguments.work)
    work.mkdir(parents=True, exist_ok=True)
    # dlt keeps its pipeline state under HOME by default.
    os.environ["HOME"] = str(work)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

    import dlt
    from dlt.common.configuration import configspec
    from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials
    from dlt.sources.rest_api import rest_api_source

    @configspec
    class BasicClientCredentials(OAuth2ClientCredentials):
        """Client-credentials grant with the id and secret in an HTTP Basic header."""

        def build_access_token_request(self) -> dict[str, Any]:
            pair = f"{self.client_id}:{self.client_secret}".encode()
            return {
                "headers": {
                    "Authorization": "Basic " + base64.b64encode(pair).decode("ascii"),
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                "data": {"grant_type": "client_credentials"},
            }

    start = datetime.fromisoformat(arguments.start).replace(tzinfo=UTC)
    end = datetime.fromisoformat(arguments.end).replace(tzinfo=UTC)
    auth = BasicClientCredentials(
        access_token_url=f"{arguments.api_url}/oauth/token",
        client_id=os.environ["GENESYS_CLOUD_CLIENT_ID"],
        client_secret=os.environ["GENESYS_CLOUD_CLIENT_SECRET"],
    )
    source = rest_api_source(
        {
            "client": {"base_url": arguments.api_url + "/", "auth": auth},
            "resources": [
                {
                    "name": "listed_surveys",
                    "endpoint": {
                        "path": "api/v2/analytics/conversations/details/query",
                        "method": "POST",
                        "json": {
                            "interval": f"{start.isoformat()}/{end.isoformat()}",
                            "order": "asc",
                            "orderBy": "conversationStart",
                            "surveyFilters": [
                                {
                                    "type": "and",
                                    "predicates": [
                                        {
                                            "type": "dimension",
                                            "dimension": "surveyId",
                                            "operator": "exists",
                                        }
                                    ],
                                }
                            ],
                            "paging": {"pageSize": PAGE_SIZE, "pageNumber": 1},
                        },
                        "paginator": {
                            "type": "page_number",
                            "base_page": 1,
                            "page_body_path": "paging.pageNumber",
                            "total_path": None,
                            "stop_after_empty_page": True,
                        },
                        "data_selector": "conversations[*].surveys[*]",
                    },
                    "processing_steps": [
                        {"filter": lambda item: item.get("surveyStatus") == "Finished"}
                    ],
                    "selected": False,
                },
                {
                    "name": "surveys",
                    "endpoint": {
                        "path": "api/v2/quality/surveys/{resources.listed_surveys.surveyId}",
                        "paginator": "single_page",
                        "response_actions": [{"status_code": 404, "action": "ignore"}],
                    },
                    "parallelized": True,
                },
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="csat_benchmark",
        pipelines_dir=str(work / "pipelines"),
        destination=dlt.destinations.duckdb(str(work / "dlt.duckdb")),
        dataset_name="survey_export",
    )
    pipeline.run(source)

    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT id, conversation__id, status FROM surveys") or []
    with open(arguments.out, "w", encoding="utf-8") as out:
        for survey_id, conversation_id, status in rows:
            record = {"surveyId": survey_id, "conversationId": conversation_id, "status": status}
            out.write(json.dumps(record) + "\n")
    print(f"loaded {len(rows)} surveys; ids in {arguments.out}")


if __name__ == "__main__":
    main()
