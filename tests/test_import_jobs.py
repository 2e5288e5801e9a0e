"""Big browser uploads run as background jobs the page polls, with progress."""

import pytest
from django.core.cache import cache

from accounts.models import Account
from cs_portal.jobs import progress_key
from cs_portal.models import ImportRun

ACCOUNTS = b"external_id,name,segment,tier\n" + b"".join(
    f"big-{i:04d},Big {i},self_serve,3\n".encode() for i in range(300)
)


pytestmark = pytest.mark.usefixtures("eager_celery")  # the job runs inline


def upload(client, data: bytes, name="big.csv", **headers):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/imports/",
        {"kind": "accounts", "file": SimpleUploadedFile(name, data, "text/csv")},
        **headers,
    )


def test_big_upload_runs_as_a_job_and_the_page_shows_its_outcome(
    maya_client, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.IMPORT_ASYNC_BYTES = 1000
    settings.IMPORT_SPOOL_DIR = str(tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(maya_client, ACCOUNTS, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    run = ImportRun.objects.get(filename="big.csv")
    # The htmx response is the polling card; the job then ran on commit.
    assert f'hx-get="/imports/jobs/{run.pk}/"' in response.text
    assert 'hx-trigger="every 1s"' in response.text
    run.refresh_from_db()
    assert (run.status, run.rows, run.created) == ("accepted", 300, 300)
    assert Account.objects.filter(external_id__startswith="big-").count() == 300
    assert list(tmp_path.iterdir()) == []  # the spooled file is gone

    done = maya_client.get(f"/imports/jobs/{run.pk}/", HTTP_HX_REQUEST="true")
    assert "Accepted: 300 accounts rows" in done.text
    assert "every 1s" not in done.text  # polling stops


def test_a_rejected_background_import_lists_its_bad_rows(
    maya_client, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.IMPORT_ASYNC_BYTES = 1000
    settings.IMPORT_SPOOL_DIR = str(tmp_path)
    data = ACCOUNTS + b"bad-1,Bad,galaxy,3\n"
    with django_capture_on_commit_callbacks(execute=True):
        upload(maya_client, data)
    run = ImportRun.objects.get(filename="big.csv")
    assert run.status == "rejected"
    page = maya_client.get(f"/imports/?job={run.pk}")
    assert "Rejected: nothing was imported" in page.text
    assert '<td class="num">302</td>' in page.text
    assert "galaxy" in page.text
    assert not Account.objects.filter(external_id__startswith="big-").exists()


def test_a_running_job_shows_its_phase_and_percentage(maya_client, maya):
    run = ImportRun.objects.create(
        kind="usage", origin="web", user=maya, filename="usage.csv", status=ImportRun.Status.RUNNING
    )
    cache.set(progress_key(run.pk), {"phase": "copying", "done": 250, "total": 1000})
    page = maya_client.get(f"/imports/jobs/{run.pk}/", HTTP_HX_REQUEST="true")
    assert "Copying: 250 of 1,000 bytes" in page.text
    assert 'aria-valuenow="25"' in page.text
    assert 'hx-trigger="every 1s"' in page.text


def test_unknown_job_is_a_404_not_a_500(maya_client):
    assert maya_client.get("/imports/jobs/999999/").status_code == 404
    assert maya_client.get("/imports/?job=abc").status_code == 200
