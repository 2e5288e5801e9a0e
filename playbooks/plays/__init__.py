"""Playbooks, plays and tasks: the services that start and work plays, and the reads behind
My work, the account's Plays tab, the playbook editor and the plays API.

Triggers
--------
A playbook's trigger is an alert kind (`AlertKind`), optionally with a detail: `kind` or
`kind:detail`. Without a detail it matches every alert of that kind; with one, only these:

| kind               | detail                              | matches an alert when              |
|--------------------|-------------------------------------|------------------------------------|
| override           | sharp_drop, coasting,               | that override fired                |
|                    | data_trust_incident, champion_left  |                                    |
| band_change        | green, yellow, red                  | the account moved into that band   |
| commit_threshold   | 70, 90                              | that share of the commit was used  |
| onboarding_overdue | a milestone key, e.g. first_query   | that milestone is overdue          |
| renewal_risk       | days, 1-365                         | the renewal is at most that many   |
|                    |                                     | days away when the alert is raised |
| score_drop         | points, 1-100                       | the score fell at least that much  |
| usage_spike        | a ratio, 1-1000                     | usage ran at least that many times |
|                    |                                     | its prior daily average            |

A playbook applies to the tiers in `tiers` (empty: every tier). Only active playbooks with at
least one step start plays; with no playbooks loaded, alerts start nothing.

Owners and pools
----------------
- owner_rule `csm`: the account's CSM owns the play and its tasks.
- owner_rule `pool`: a tier-2 or tier-3 account's play goes to the tier's pool queue (`tier2`,
  `tier3`) with no owner, even when the account has a CSM: tier 2 is worked by a pod from a
  shared queue and tier 3 has no named human, so whoever is free picks it up. Tier 1 always goes
  to the named CSM.
- An account without a CSM goes to its tier's pool (`tier1`, `tier2`, `tier3`) whatever the
  rule, so nothing is ever assigned to nobody.
Tasks take the owner and pool of their play. A CSM's pool queue shows `tierN` for every tier N
of the accounts they own, and `tier3` always (the digital tier has no named CSMs). Any CSM may
claim or complete a pooled task; claiming takes the whole play (the task, the play's other
unclaimed tasks and the play itself), so one person works a play end to end.

At most one open play per account and playbook (a partial unique constraint): a second alert
while the play is open adds nothing; once the play is done or cancelled, the next alert starts a
new one.

rules.py: triggers, owners and pools, step input; selectors.py: the reads behind the pages and
the API; services.py: start, cancel, claim, complete, save a playbook; library.py: the default
playbooks.
"""
