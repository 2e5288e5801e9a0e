"""Alert routing: each person hears only what they act on, where they want it.

A rule set, versioned like the health model (every save is a new version with its author and
time), says per alert kind, direction (worse or better) and tier which channels an alert goes to
(inbox, Slack, the daily email digest, or none) and to whom (the owning CSM, the tier's pool,
the CS managers, the account's AE), and whether it is required. Each person may mute kinds or
channels for themselves, never a required row.

The recompute routes every new alert as it stores it (`Alert.owner`, `Alert.inbox`,
`Alert.routing`), and delivery records and sends only what the route says. One account's alerts
of one recompute share a `story`: one inbox entry with its parts, one Slack message.

rules.py: the grid, its defaults and the pure decision; selectors.py: people, preferences,
history and the noise figure (alerts per CSM per week, and the share acted on); services.py:
saving versions and preferences, routing new alerts.
"""
