"""In a browser: a CSV is uploaded, its columns matched, and the import page shows rows done /
total and finishes by itself, with the rows to check listed."""

import pytest
from playwright.sync_api import expect

from outreach import tasks
from outreach.imports import prospect_import_process
from outreach.models import Prospect, ProspectImport
from tests.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_import_shows_its_progress_and_finishes_by_itself(
    live_server, page, rep, tmp_path, monkeypatch
):
    queued = []
    # The worker's part is played by the test below, so the page is seen before it runs.
    monkeypatch.setattr(tasks.prospect_import_run, "delay", queued.append)
    rows = [f"lead{n}@northwind.test,Lead,{n},Northwind" for n in range(1_200)]
    rows.insert(500, "not an address,Bad,Row,Northwind")
    path = tmp_path / "leads.csv"
    path.write_text("Email,First name,Last name,Company\n" + "\n".join(rows) + "\n")
    sign_in(page, live_server, rep)

    page.goto(f"{live_server.url}/prospects/")
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and match the columns").click()
    expect(page.get_by_label("Email (required)")).to_have_value("0")
    expect(page.get_by_label("Company")).to_have_value("3")
    page.get_by_role("button", name="Start the import").click()

    expect(page.locator("#import-progress")).to_contain_text("0 of 1,201 rows")
    assert page.locator("#import-bar").get_attribute("value") == "0"
    assert len(queued) == 1
    prospect_import_process(import_id=queued[0], chunk_rows=500)

    expect(page.locator("#import-status")).to_have_text("Done")
    expect(page.locator(".stats")).to_contain_text("1,200")
    expect(page.locator("#import-issues")).to_contain_text(
        "“not an address” is not an email address."
    )
    assert page.locator("#import-bar").get_attribute("value") == "100"
    assert Prospect.objects.filter(email__endswith="@northwind.test").count() == 1_200
    assert ProspectImport.objects.get().error_count == 1
