"""factory_boy factories for every domain model, one module per app; import them from here.

Each factory builds a valid row on its own (its parents come from sub-factories) with values a
reader can recognise; pass what a test is about explicitly.
"""

from tests.factories.accounts import (
    AccountFactory,
    ApiTokenFactory,
    ContactFactory,
    ContractFactory,
    TierChangeFactory,
    TouchpointFactory,
    UserFactory,
)
from tests.factories.datatrust import DatasetFactory, FreshnessObservationFactory, HeadsUpFactory
from tests.factories.health import (
    HealthModelFactory,
    HealthSnapshotFactory,
    IncidentFactory,
    RecomputeRequestFactory,
    UsageDayFactory,
    UsageDimsFactory,
    UsageFactFactory,
)
from tests.factories.imports import ImportRunFactory
from tests.factories.playbooks import (
    AlertDeliveryFactory,
    AlertFactory,
    MilestoneFactory,
    NudgeFactory,
    PlaybookFactory,
    PlaybookStepFactory,
    PlayFactory,
    SuccessPlanFactory,
    TaskFactory,
    TierSuggestionFactory,
)

__all__ = [
    "AccountFactory",
    "AlertDeliveryFactory",
    "AlertFactory",
    "ApiTokenFactory",
    "ContactFactory",
    "ContractFactory",
    "DatasetFactory",
    "FreshnessObservationFactory",
    "HealthModelFactory",
    "HealthSnapshotFactory",
    "HeadsUpFactory",
    "ImportRunFactory",
    "IncidentFactory",
    "MilestoneFactory",
    "NudgeFactory",
    "PlayFactory",
    "PlaybookFactory",
    "PlaybookStepFactory",
    "RecomputeRequestFactory",
    "SuccessPlanFactory",
    "TaskFactory",
    "TierChangeFactory",
    "TierSuggestionFactory",
    "TouchpointFactory",
    "UsageDayFactory",
    "UsageDimsFactory",
    "UsageFactFactory",
    "UserFactory",
]
