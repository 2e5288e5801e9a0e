"""The default playbook library, drawn from the CS plan in the seed (tiering, the health
overrides, renewals, data trust, the product-qualified signal on the digital tier).

`playbooks_load_defaults()` only creates the playbooks whose key is missing: a playbook that
exists is never overwritten, so a manager's edits (steps, trigger, switching one off) survive
every deploy and every `seed_demo`. It also runs after every `migrate`
(`playbooks_create_missing`, connected to post_migrate in PlaybooksConfig.ready()), so a fresh
install has the library; to retire a default, switch it off (a deleted one comes back at the next
migrate). To put one back to the shipped version on purpose, pass its key in `reset`
(`python manage.py load_playbooks --reset sharp-drop`).

The renewal cadence is 120/90/60 days before the renewal, but `renewal_risk` fires when the
renewal is within 90 days while the account is not green, so the play starts with the 120-day
review (catching up on it) and runs the 90- and 60-day steps from there.
"""

from __future__ import annotations

from django.apps import apps as current_apps
from django.db import router, transaction

from playbooks.models import OwnerRule, Playbook, PlaybookStep

# Each step: (title, detail, due days after the play starts).
DEFAULT_PLAYBOOKS: list[dict] = [
    {
        "key": "onboarding-tier1",
        "name": "Tier 1 onboarding: named CSM + SE",
        "description": "White-glove onboarding for strategic accounts: data flowing into their "
        "own warehouse with a person depending on it. Starts when an onboarding "
        "milestone runs overdue; start it by hand at kickoff.",
        "trigger": "onboarding_overdue",
        "tiers": [1],
        "owner_rule": OwnerRule.CSM,
        "steps": [
            (
                "Kickoff with the exec sponsor: write down the value definition and ROI baseline",
                "Outcomes in their currency: FTEs saved, nodes/indexers avoided per year, time to "
                "market. This is what every QBR re-quantifies.",
                0,
            ),
            (
                "SE: provision the Snowflake / BigQuery datashare and confirm they see the tables",
                "Or Databricks Delta Sharing / Kafka topics / API keys, whatever their stack uses.",
                2,
            ),
            (
                "Working session with their data engineer: first query on the datasets they bought",
                "Start from their use case, e.g. crosschain.dex.trades or "
                "crosschain.assets.transfers on the chains in the contract.",
                5,
            ),
            (
                "SE: review the first production pipeline against our freshness SLAs",
                "dbt model, Kafka consumer or API integration: "
                "check schedules vs dataset freshness "
                "(EVM raw ~6-10 min, DEX trades hourly) and add them to schema-change briefings.",
                10,
            ),
            (
                "Confirm the first dependent consumer and record time to value",
                "The dashboard, service or report someone relies on. Tick the milestone with the "
                "evidence.",
                14,
            ),
            ("Schedule the first QBR and set up the Slack Connect channel", "", 21),
        ],
    },
    {
        "key": "onboarding-tier2",
        "name": "Tier 2 onboarding: webinar and office hours",
        "description": "One-to-many onboarding for scaled accounts, worked from the tier-2 pool: "
        "a human steps in where the milestones stall.",
        "trigger": "onboarding_overdue",
        "tiers": [2],
        "owner_rule": OwnerRule.POOL,
        "steps": [
            (
                "Invite their data team to the next onboarding webinar",
                "Delivery into Snowflake, BigQuery or Databricks, the unified multi-chain schema, "
                "and where to find dataset freshness.",
                0,
            ),
            ("Offer a 30-minute office-hours slot to unblock access or API keys", "", 3),
            (
                "Check usage for a first query or API call; if none, send the quickstart recipe",
                '"Run your first query on ethereum.raw.logs", or the API quickstart for developer '
                "plans.",
                7,
            ),
            (
                "Confirm a production pipeline is live and who depends on it; log time to value",
                "",
                14,
            ),
        ],
    },
    {
        "key": "onboarding-tier3",
        "name": "Tier 3 onboarding: digital",
        "description": "Self-serve onboarding for the digital tier: lifecycle email, console "
        "prompts and docs; the pool only steps in if nothing moves.",
        "trigger": "onboarding_overdue",
        "tiers": [3],
        "owner_rule": OwnerRule.POOL,
        "steps": [
            (
                "Check the lifecycle emails went out and the console's first-query prompt shows",
                'The empty-state prompt: "run your first query on Ethereum logs →".',
                0,
            ),
            (
                "Send the quickstart for their plan: Explorer SQL, Developer API keys or a "
                "Datastreams topic",
                "",
                3,
            ),
            ("Still no first query or API call: reply personally and offer office hours", "", 10),
        ],
    },
    {
        "key": "sharp-drop",
        "name": "Sharp drop: find out why within 48 hours",
        "description": "Usage fell below half its prior level and stayed there for a week. "
        "Usually a broken pipeline, a schema change, or an in-house build.",
        "trigger": "override:sharp_drop",
        "tiers": [1, 2],
        "owner_rule": OwnerRule.CSM,
        "steps": [
            (
                "Call the data engineer: is a pipeline broken, paused or being rebuilt in-house?",
                "Watch for build-vs-buy tells: the drop plus questions about raw access.",
                0,
            ),
            (
                "Check their pipelines for failed loads, schema changes and failed queries",
                "Failed queries by reason on the datasets they used; recent schema changes on "
                "those datasets; Snowflake/BigQuery share or Kafka consumer errors.",
                1,
            ),
            ("Send the exec sponsor a note: what we saw, what we found, what happens next", "", 2),
            (
                "Confirm usage is back to its 28-day level or agree a recovery plan",
                "Log the outcome as a touchpoint.",
                7,
            ),
        ],
    },
    {
        "key": "coasting-adoption-plan",
        "name": "Coasting: joint adoption plan",
        "description": "Healthy relationship, but consumption far below commit: shelfware that "
        "will not recommit at the same level. Agree the next workflows the data "
        "should power.",
        "trigger": "override:coasting",
        "tiers": [1, 2],
        "owner_rule": OwnerRule.CSM,
        "steps": [
            (
                "Pull commit vs consumption and the run-rate to period end",
                "List licensed-but-unused datasets and chains adjacent to what they query.",
                0,
            ),
            (
                "Workshop with the champion and data engineer: pick 2-3 workflows to power next",
                "E.g. extend the compliance dashboard to Base and Arbitrum, or move a batch job "
                "to Datastreams.",
                5,
            ),
            (
                "Send the joint adoption plan: workflows, owners, dates and the units they use",
                "",
                10,
            ),
            (
                "Review progress against commit pace; escalate to the exec sponsor if still under "
                "50%",
                "",
                30,
            ),
        ],
    },
    {
        "key": "renewal-cadence",
        "name": "Renewal at risk: 120/90/60-day cadence",
        "description": "The renewal is within 90 days and the account is not green. Starts with "
        "the 120-day review, then the 90- and 60-day steps. No surprises at "
        "renewal.",
        "trigger": "renewal_risk",
        "tiers": [1, 2],
        "owner_rule": OwnerRule.CSM,
        "steps": [
            (
                "120-day review: commit vs consumption, run-rate projection and health drivers",
                "Include open data-trust incidents and feature requests they are waiting on.",
                0,
            ),
            (
                "90 days out: book the renewal QBR with the exec sponsor and data engineer",
                "Quantify ROI in their currency: FTEs saved, infra avoided, time to market.",
                3,
            ),
            (
                "With the AE: draft the renewal proposal",
                "Over commit → frame the upsize; under "
                "→ the joint adoption plan so the renewal is not a downgrade.",
                14,
            ),
            (
                "60 days out: proposal in their hands; confirm procurement path and signatories",
                "",
                30,
            ),
            ("Escalate anything unsigned to the CS manager and the AE's leadership", "", 60),
        ],
    },
    {
        "key": "health-slipping",
        "name": "Strategic account slipping: find the decay",
        "description": "A tier-1 account left green. Silent decay rarely announces itself: "
        "usage slides, people drift away, and one quarter they do not recommit.",
        "trigger": "band_change:yellow",
        "tiers": [1],
        "owner_rule": OwnerRule.CSM,
        "steps": [
            (
                "Read the Health tab: which chains, datasets and users fell off, since when",
                "Compare the last 28 days with the 28 before; note what their pipelines stopped "
                "querying.",
                0,
            ),
            (
                "Ask the data engineers what changed: build-vs-buy tells, a schema change, a "
                "migration",
                "",
                2,
            ),
            (
                "Meet the exec sponsor with the numbers and a joint plan to win the usage back",
                "",
                7,
            ),
            ("Agree the next QBR date and the outcomes it will show", "", 14),
        ],
    },
    {
        "key": "champion-left",
        "name": "Champion left: multi-thread",
        "description": "The champion or exec sponsor left and nobody replaced them; usage decays "
        "quietly after. Re-thread the account beyond one person.",
        "trigger": "override:champion_left",
        "tiers": [1, 2],
        "owner_rule": OwnerRule.CSM,
        "steps": [
            (
                "Find out who inherits their pipelines; update the contacts",
                "Mark who left, add the successor with a role.",
                0,
            ),
            ("Reach the exec sponsor: restate the value delivered and meet the new owner", "", 2),
            ("Meet the data engineers and analysts who query us: map two new contacts", "", 7),
            (
                "Onboard the new champion: their datasets, delivery and open roadmap requests",
                "",
                14,
            ),
        ],
    },
    {
        "key": "data-trust-disclosure",
        "name": "Data-trust incident: proactive disclosure",
        "description": "An open accuracy, freshness or outage incident touches datasets they "
        "used. Tell them before they find it.",
        "trigger": "override:data_trust_incident",
        "tiers": [1, 2],
        "owner_rule": OwnerRule.CSM,
        "steps": [
            (
                "Disclose the incident: affected datasets and chains, impact window, ETA",
                "Before they find it in their own dashboards.",
                0,
            ),
            (
                "Check which of their pipelines and dashboards read the affected tables; offer a "
                "backfill",
                "",
                1,
            ),
            ("Send the resolution note with root cause; confirm their data reconciles", "", 3),
            (
                "Follow up on lingering trust concerns; file a data-quality VoC item if needed",
                "",
                14,
            ),
        ],
    },
    {
        "key": "tier3-spike-reach-out",
        "name": "Tier 3 usage spike: human reach-out",
        "description": "A digital-tier account's usage jumped 5x: a product-qualified signal. "
        "A human from the pool steps in.",
        "trigger": "usage_spike",
        "tiers": [3],
        "owner_rule": OwnerRule.POOL,
        "steps": [
            ("Look at what spiked: product, chains, datasets; is it a production pipeline?", "", 0),
            (
                "Reach out personally: offer an architecture review and the right plan for their "
                "volume",
                "Developer units per call vs a Datastreams commit; overage caps.",
                1,
            ),
            (
                "If they run production on us: propose a commit and suggest promotion to tier 2",
                "",
                5,
            ),
        ],
    },
    {
        "key": "commit-upsize",
        "name": "90% of commit used: frame the upsize",
        "description": "They have burned 90% of the commit: a good problem. Frame the upsize "
        "before overage does it for them.",
        "trigger": "commit_threshold:90",
        "tiers": [1, 2],
        "owner_rule": OwnerRule.CSM,
        "steps": [
            ("Project the run-rate to period end and the overage at the current pace", "", 0),
            ("With the AE: write the upsize thesis citing units/day, datasets and chains", "", 3),
            ("Present the upsize (or the Datastreams step up) to the sponsor", "", 10),
        ],
    },
]


def playbooks_load_defaults(
    *,
    reset: list[str] | None = None,
    using: str = "default",
    playbook_model: type[Playbook] = Playbook,
    step_model: type[PlaybookStep] = PlaybookStep,
) -> tuple[int, int]:
    """Create the default playbooks that are missing (by key); never touch existing ones,
    except those named in `reset`, which go back to the shipped version. Idempotent and safe
    to run concurrently. Returns (created, reset).

    `using` and the two models let the post_migrate handler write through the database and
    the historical models that `migrate` hands it."""
    Playbook, PlaybookStep = playbook_model, step_model  # noqa: N806 (the models, by name)
    by_key = {p["key"]: p for p in DEFAULT_PLAYBOOKS}
    reset = list(reset or [])
    unknown = [k for k in reset if k not in by_key]
    if unknown:
        raise ValueError(
            "not a default playbook: "
            + ", ".join(unknown)
            + " (defaults: "
            + ", ".join(by_key)
            + ")"
        )
    with transaction.atomic(using=using):
        existing = set(
            Playbook.objects.using(using).filter(key__in=by_key).values_list("key", flat=True)
        )
        missing = [k for k in by_key if k not in existing]
        Playbook.objects.using(using).bulk_create(
            [Playbook(**_fields(by_key[k])) for k in missing], ignore_conflicts=True
        )
        redo = [k for k in reset if k in existing]
        for key in redo:
            Playbook.objects.using(using).filter(key=key).update(**_fields(by_key[key]))
        PlaybookStep.objects.using(using).filter(playbook__key__in=redo).delete()
        # Steps for the playbooks that have none: the ones just created (a concurrent loader
        # may have created some of them; the (playbook, order) constraint absorbs the overlap)
        # and the ones being reset.
        fresh = Playbook.objects.using(using).filter(key__in=missing + redo, steps__isnull=True)
        PlaybookStep.objects.using(using).bulk_create(
            [
                PlaybookStep(playbook=book, order=i, title=title, detail=detail, due_days=due)
                for book in fresh
                for i, (title, detail, due) in enumerate(by_key[book.key]["steps"], start=1)
            ],
            ignore_conflicts=True,
        )
    return len(missing), len(redo)


def _fields(spec: dict) -> dict:
    return {
        k: spec[k] for k in ("key", "name", "description", "trigger", "tiers", "owner_rule")
    } | {"active": True}


def playbooks_create_missing(
    sender, *, using: str = "default", apps=None, verbosity: int = 1, **kwargs
) -> None:
    """post_migrate handler (connected for this app only): create the default playbooks that
    are missing, so every install has the library right after `migrate`. Never overwrites an
    edited one. Uses the models as migrated (`apps`; `flush` sends none: then the current
    ones), so it also works mid-history; does nothing when the playbooks app is migrated back
    to zero or not allowed on this database."""
    apps = apps or current_apps

    try:
        playbook_model = apps.get_model("playbooks", "Playbook")
        step_model = apps.get_model("playbooks", "PlaybookStep")
    except LookupError:
        return
    if not router.allow_migrate_model(using, playbook_model):
        return
    created, _ = playbooks_load_defaults(
        using=using, playbook_model=playbook_model, step_model=step_model
    )
    if created and verbosity >= 1:
        print(f"  Created {created} default playbook(s).")
