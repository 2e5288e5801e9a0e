"""Dynamic tiering: the system suggests promotions and relegations with evidence; a manager
approves (the tier changes and history is written) or dismisses.

Rules (DESIGN.md "Triggers · tiering"), evaluated on the day's snapshot facts:
- tier 3 → 2 on a product-qualified signal (a usage spike ≥ 5× the prior 28-day daily average
  with a real baseline, or a usage_spike alert in the last 30 days) or ARR over
  settings.TIER3_PROMOTE_ARR;
- tier 2 → 1 on ARR over settings.TIER2_PROMOTE_ARR or an expansion ceiling: ≥ 90% of the commit
  consumed with more than 25% of the period left, or active users ≥ seats on at least 7 of the
  last 28 days (a seat ceiling; one busy day is not);
- tier 1 → 2 on flat usage (28-day trend ratio ≤ 1.05) with no exec-sponsor engagement in 90 days.

At most one pending suggestion per account (a partial unique constraint). A pending suggestion
for the same move gets today's evidence; one whose from-tier no longer matches the account (a
manager moved it by hand) is withdrawn. A dismissed move is not suggested again for 30 days,
and a tier change made in the last 90 days is not suggested back (a $900k account relegated for
lack of engagement would otherwise be promoted again the next day by the ARR rule).
Only live recomputes (the last complete day, or the one before) refresh suggestions: a backfill
of history must not fill the queue with stale news.
"""
