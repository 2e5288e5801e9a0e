"""Success plans, onboarding milestones and time to value (TTV).

Milestone plans by tier (days after the start of the first contract):

| milestone                   | tier 1 | tier 2 | tier 3 | when                              |
|-----------------------------|--------|--------|--------|-----------------------------------|
| value_defined               |   7    |   14   |   –    | a human agrees the outcomes       |
| access_provisioned          |  10    |   14   |   3    | credentials / shares / topics     |
| first_query                 |  14    |   21   |   7    | explorer/credits plans; tier 1-2  |
| first_api_call              |  21    |   30   |  14    | developer/datastreams plans       |
| first_stream_event          |  21    |   30   |  21    | datastreams plans                 |
| first_production_pipeline   |  30    |   60   |  45    | data lands in their warehouse/app |
| first_dependent_consumer    |  45    |   90   |  90    | someone depends on that data      |

Tier 1 moves fastest because a named CSM and SE run the onboarding; tier 2 is pooled, so the
dates are looser; tier 3 is digital: nobody holds a value conversation (so no value_defined),
access is self-serve and the product's own messaging carries the rest. The product milestones
follow the plan the account bought: SQL in the browser (explorer, legacy credits) is proved by a
first query, the developer APIs by a first API call, datastreams by an API call and a first
stream event. Tier 1-2 onboarding also starts with guided SQL exploration with the SE/CSM, so
they get first_query whatever the plan; a digital-tier developer may never open the SQL editor.

Only first_query, first_api_call and first_stream_event can be proved by usage; they complete
themselves (`milestones_complete_from_usage`, run by every recompute). The others are ticked by
the CSM, with evidence.

Time to value: DESIGN.md defines it as "days from contract start to the first production use:
data flowing into their system with someone depending on it". A production pipeline alone is
data flowing with nobody depending on it yet, so TTV ends when `first_dependent_consumer`
completes, and it starts on the first contract's start (onboarding happens once; a renewal does
not restart the clock).
"""
