"""The sequential export a reader of the official SDK's tutorials would write.

It pages the analytics conversation details query one UTC day at a time, then reads every
Finished survey and every evaluation of the listed conversations one request after another,
and writes one NDJSON line per survey. On a 429 it sleeps ``2**attempt`` seconds (divided by
``--time-scale``) and tries again. The SDK's urllib3 pool already retries a 429 that carries
``Retry-After`` on its own, up to 10 times, so this loop only gets the 429s that outlast those.

Run: ``python -m benchmarks.contenders.sdk_sequential --api-url URL --from DAY --to DAY
--out FILE`` with ``GENESYS_CLOUD_CLIENT_ID`` and ``GENESYS_CLOUD_CLIENT_SECRET`` set.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

PAGE_SIZE = 100
MAX_ATTEMPTS = 6


def parse_day(text: str) -> datetime:
    """Parse ``YYYY-MM-DD`` as midnight UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", required=True, help="API base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, help="day after the last, YYYY-MM-DD")
    parser.add_argument("--out", required=True, help="NDJSON file to write")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="divide every back-off sleep by this"
    )
    arguments = parser.parse_args()

    # The SDK's Configuration watches ~/.genesyscloudpython for a config file from a thread
    # started at import, so HOME points at an empty folder before the import.
    os.environ["HOME"] = tempfile.mkdtemp(prefix="sdk-home-")
    import PureCloudPlatformClientV2 as platform
    from PureCloudPlatformClientV2.rest import ApiException

    # The SDK derives the login URL by replacing "//api." with "//login.". A loopback URL has no
    # "api." part, so the token request goes to the API host, where the simulator serves it.
    platform.configuration.host = arguments.api_url
    api_client = platform.api_client.ApiClient(arguments.api_url).get_client_credentials_token(
        os.environ["GENESYS_CLOUD_CLIENT_ID"], os.environ["GENESYS_CLOUD_CLIENT_SECRET"]
    )
    analytics = platform.ConversationsApi(api_client)
    quality = platform.QualityApi(api_client)

    def call(request: Callable[[], T]) -> T | None:
        """Send one request; return ``None`` on a 404 and back off on a 429."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                return request()
            except ApiException as exc:
                if exc.status == 404:
                    return None
                if exc.status != 429 or attempt == MAX_ATTEMPTS - 1:
                    raise
                time.sleep(2**attempt / arguments.time_scale)
        return None

    written = 0
    day = parse_day(arguments.start)
    end = parse_day(arguments.end)
    with open(arguments.out, "w", encoding="utf-8") as out:
        while day < end:
            following = day + timedelta(days=1)
            page_number = 1
            while True:
                query = platform.ConversationQuery()
                query.interval = f"{day.isoformat()}/{following.isoformat()}"
                query.order = "asc"
                query.order_by = "conversationStart"
                predicate = platform.SurveyDetailQueryPredicate()
                predicate.type = "dimension"
                predicate.dimension = "surveyId"
                predicate.operator = "exists"
                survey_filter = platform.SurveyDetailQueryFilter()
                survey_filter.type = "and"
                survey_filter.predicates = [predicate]
                query.survey_filters = [survey_filter]
                paging = platform.PagingSpec()
                paging.page_size = PAGE_SIZE
                paging.page_number = page_number
                query.paging = paging
                response = call(
                    partial(analytics.post_analytics_conversations_details_query, query)
                )
                conversations = (response.conversations if response else None) or []
                for conversation in conversations:
                    written += export_conversation(conversation, quality, api_client, call, out)
                total = (response.total_hits if response else 0) or 0
                if len(conversations) < PAGE_SIZE or page_number * PAGE_SIZE >= total:
                    break
                page_number += 1
            day = following
    print(f"wrote {written} surveys to {arguments.out}")


def export_conversation(
    conversation: Any,
    quality: Any,
    api_client: Any,
    call: Callable[[Callable[[], Any]], Any],
    out: Any,
) -> int:
    """Read the Finished surveys and the evaluations of one conversation; write its lines."""
    surveys = [item for item in conversation.surveys or [] if item.survey_status == "Finished"]
    if not surveys:
        return 0
    conversation_id = conversation.conversation_id
    evaluations = []
    evaluation_ids = dict.fromkeys(item.evaluation_id for item in conversation.evaluations or [])
    for evaluation_id in evaluation_ids:
        evaluation = call(
            partial(
                quality.get_quality_conversation_evaluation,
                conversation_id,
                evaluation_id,
                expand="agent,evaluator,evaluationForm",
            )
        )
        if evaluation is not None:
            evaluations.append(api_client.sanitize_for_serialization(evaluation))
    count = 0
    for listed in surveys:
        survey = call(partial(quality.get_quality_survey, listed.survey_id))
        if survey is None:
            continue
        body = api_client.sanitize_for_serialization(survey)
        record = {
            "surveyId": listed.survey_id,
            "conversationId": conversation_id,
            "status": body.get("status"),
            "npsScore": (body.get("answers") or {}).get("npsScore"),
            "agentId": (body.get("agent") or {}).get("id"),
            "queueId": (body.get("queue") or {}).get("id"),
            "evaluationIds": [item.get("id") for item in evaluations],
            "survey": body,
            "evaluations": evaluations,
        }
        out.write(json.dumps(record, default=str) + "\n")
        count += 1
    return count


if __name__ == "__main__":
    main()
