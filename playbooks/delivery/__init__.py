"""Alert delivery: the in-app inbox, Slack (incoming webhook, Block Kit) and a daily email digest.

Off the hot path. The recompute only creates alerts, each with its route (playbooks/routing:
which channels, whose inbox, whose digest); after its transaction commits, `deliveries_enqueue`
records one AlertDelivery per channel the route names (per person for the digest) and queues one
Celery task per Slack message (one message per story: one account's alerts of one recompute). An
alert raised before routing goes everywhere, as it always did. A receiver that times out,
refuses the connection or answers non-2xx is retried with backoff, and its last error stays on
the delivery (the inbox shows it). Nothing here raises into the recompute, and one failing
channel never holds up another.

Slack messages wait a short grace period (`ALERT_DELIVERY_GRACE_SECONDS`, default 0) before the
first attempt, and every attempt first drops the alerts that were resolved by then (status
`dropped`, "Condition cleared before sending"): the files of one load may arrive minutes apart,
and an alert the next file clears should not reach the channel. The digest leaves resolved
alerts out the same way.

The Celery entry points are in playbooks/tasks.py; the services queue them by name.
"""
