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
from tests.factories.expansion import (
    OpportunityFactory,
    StageChangeFactory,
    TriggerSettingsFactory,
)
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
    RoutingPreferenceFactory,
    RoutingRulesFactory,
    SuccessPlanFactory,
    TaskFactory,
    TierSuggestionFactory,
)
from tests.factories.qbr import NextStepFactory, QbrFactory
from tests.factories.voc import (
    FailureDayFactory,
    FeedbackItemFactory,
    LoopTellFactory,
    ThemeEventFactory,
    ThemeFactory,
)

__all__ = [
    "NextStepFactory",
    "QbrFactory",
    "FailureDayFactory",
    "FeedbackItemFactory",
    "LoopTellFactory",
    "ThemeEventFactory",
    "ThemeFactory",
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
    "OpportunityFactory",
    "PlayFactory",
    "PlaybookFactory",
    "PlaybookStepFactory",
    "RecomputeRequestFactory",
    "RoutingPreferenceFactory",
    "RoutingRulesFactory",
    "StageChangeFactory",
    "SuccessPlanFactory",
    "TaskFactory",
    "TierChangeFactory",
    "TierSuggestionFactory",
    "TouchpointFactory",
    "TriggerSettingsFactory",
    "UsageDayFactory",
    "UsageDimsFactory",
    "UsageFactFactory",
    "UserFactory",
]
