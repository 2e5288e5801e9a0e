"""Raise alerts from the day's snapshots: one alert per threshold crossing, never repeated.

Called right after a recompute has stored its snapshots. Each alert's `key` names the crossing
(the day it happened, the renewal or contract period it belongs to), and (account, kind, key)
is unique, so recomputing the same day, a retried task or a second worker cannot raise it
twice. Backfills of past days raise nothing: an alert is news, not history.

The alert lifecycle: acknowledge, snooze and reopen (people), resolve (the recompute).

    open ──acknowledge──▶ acknowledged
      │  ◀──reopen──────────┘   │
      ├──snooze (until a date)──▶ snoozed ──the date comes──▶ open
      └──condition cleared (any of the above)──▶ resolved ──holds again──▶ open

People act on an alert under the inbox's rules (`rules.can_work_alert`): its owner, any CSM
for a pooled alert, a CS manager for any. Acknowledging or snoozing also marks it read.

A snooze runs until `snoozed_until`: from that day on the alert reads as open (`Alert.status_on`,
and the inbox's and API's queries do the same), and the next live recompute flips the row.

`alerts_resolve` runs after every live recompute, before new alerts are raised: every alert of
the scoped accounts that is not resolved and whose condition no longer holds on that day's
snapshot is resolved with a reason a CSM reads ("band back to green (score 74)"), and its
deliveries that have not gone out yet are dropped. Accounts without a snapshot that day are left
alone. Set-based: a handful of queries for the whole book.
Plays started by a resolved alert on which nobody did any work are closed as "condition
cleared" and their open tasks cancelled; a play with work done stays open (the Plays tab says
the condition cleared). A resolved alert whose crossing holds again is reopened by
`alerts_raise`.

Every alert raised or reopened is routed as it is stored (playbooks/routing: its owner, whose
inbox shows it, its channels, its story), and delivery follows the route.

rules.py: the thresholds and the pure decisions (when a condition has cleared, snooze dates, who
may work an alert); selectors.py: the day's crossings; services.py: raise, resolve, acknowledge,
snooze and reopen.
"""
