"""GET /api/v1/metrics/retention: the contract's fields, role scope, and 400 on bad values."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import ApiTokenFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/metrics/retention"


def _get(client, token: str, **params):
    return client.get(URL, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_manager_reads_the_whole_book_as_fractions(client, maya_token, contract_cohort):
    body = _get(client, maya_token, as_of="2026-06-30").json()
    assert body == {
        "as_of": "2026-06-30",
        "basis": "contract",
        "nrr": 0.867927,
        "grr": 0.73585,
        "starting_arr": 265000.0,
        "ending_arr": 230000.75,
        "expansion": 35000.5,
        "contraction": 19999.75,
        "churn": 50000.0,
        "cohort_accounts": 5,
    }


def test_consumption_basis(client, maya_token, consumption_cohort):
    body = _get(client, maya_token, as_of="2026-06-30", basis="consumption").json()
    assert (body["nrr"], body["grr"]) == (1.156633, 0.734946)
    assert (body["starting_arr"], body["ending_arr"]) == (83000.0, 96000.5)
    assert (body["expansion"], body["contraction"], body["churn"]) == (35000.0, 1999.5, 20000.0)


def test_a_csm_reads_only_their_own_book(client, alice_token, contract_cohort):
    body = _get(client, alice_token, as_of="2026-06-30").json()
    # expands, shrinks and churns: 100,000 + 80,000 + 50,000 → 130,000.50 + 60,000.25 + 0
    assert (body["starting_arr"], body["ending_arr"]) == (230000.0, 190000.75)
    assert body["cohort_accounts"] == 3
    assert body["nrr"] == round(190000.75 / 230000, 6)


def test_a_csm_with_no_book_gets_an_empty_cohort(client, contract_cohort):
    ApiTokenFactory(user=UserFactory(role="csm"), raw="csp_test_nobook")
    body = _get(client, "csp_test_nobook", as_of="2026-06-30").json()
    assert body["cohort_accounts"] == 0 and body["nrr"] is None and body["starting_arr"] == 0


def test_as_of_defaults_to_today(client, maya_token):
    body = _get(client, maya_token).json()
    assert body["as_of"] == date.today().isoformat() and body["basis"] == "contract"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"basis": "seats"}, "basis must be 'contract' or 'consumption', not 'seats'"),
        ({"as_of": "30/06/2026"}, "as_of must be a date in YYYY-MM-DD form, not '30/06/2026'"),
        ({"as_of": "0001-01-01"}, "as_of must fall between 2000 and 2100, not '0001-01-01'"),
    ],
)
def test_bad_values_answer_400_with_a_message(client, maya_token, params, message):
    response = _get(client, maya_token, **params)
    assert response.status_code == 400
    assert response.json() == {"detail": message}
