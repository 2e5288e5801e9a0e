"""Digital-tier nudges: events for the product's own messaging, delivered to a signed webhook.

Raised by the recompute (inside its transaction) for tier-3 accounts:
- `throughput_70` / `throughput_90`: 70% / 90% of the committed throughput consumed in the
  contract period (key `70:<period_start>`, so once per period). An account first seen past 90%
  gets the 90% nudge only: two messages on one day say the same thing twice.
- `cross_chain`: at least 80% of the last 28 days' chain-tagged units on Ethereum (and at least
  CROSS_CHAIN_MIN_UNITS of them), and never any usage on Base, Arbitrum or Optimism: "the same
  query runs on Base". Key `ethereum>base`: once per account.
Like alerts, nudges are news: only live recomputes raise them, never a backfill of history.
- `schema_change`: a heads-up before a dataset's schema changes, created elsewhere (the data
  trust code, for tier-3 accounts that queried the dataset) and delivered by the same path:
  any kind is delivered the same way, with its kind in the event name.

Delivery happens after commit, one Celery task per nudge: POST the JSON payload to
settings.NUDGE_WEBHOOK_URL with `X-CSPortal-Signature: sha256=<hex HMAC-SHA256 of the raw body
keyed with NUDGE_WEBHOOK_SECRET>` and `X-CSPortal-Event: nudge.<kind>`. Timeouts, connection
errors and 5xx answers are retried with exponential backoff; a 4xx is final (the receiver
rejected it, sending it again will not help). The outcome is recorded on the Nudge row. With no
URL configured the nudge is marked skipped.
"""
