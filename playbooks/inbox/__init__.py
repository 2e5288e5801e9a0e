"""The in-app inbox: which alerts a person sees, in which order, the unread count, and marking
alerts read.

A CSM sees the alerts they own (and can switch to the pooled queue: tier-2/3 accounts with no
named CSM); a CS manager sees everyone's, with an owner filter. Alerts needing attention come
first: open ones (a snooze that has run out reads as open), then acknowledged, snoozed and
resolved ones, newest first within each. By default the inbox shows the open and acknowledged
ones; `status` picks one status or all. Acknowledge, snooze and reopen live in
playbooks.alerts.services.
"""
