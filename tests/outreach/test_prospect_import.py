"""A CSV of prospects: uploaded, its columns matched, read by the import task; every row is
imported, updated, or listed with the reason, and the list downloads as a CSV."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from outreach import imports
from outreach.imports import prospect_import_process
from outreach.models import Prospect, ProspectImport
from suppression.services import suppression_add
from tests.factories import ProspectFactory, UserFactory


def _upload(client, text: str | bytes, name="leads.csv"):
    raw = text.encode() if isinstance(text, str) else text
    return client.post(
        reverse("prospect_import_new"), {"file": SimpleUploadedFile(name, raw, "text/csv")}
    )


def _start(client, prospect_import, capture, **choices):
    data = {
        f"column_{field}": ""
        if prospect_import.mapping.get(field) is None
        else prospect_import.mapping[field]
        for field in imports.IMPORT_FIELDS
    }
    data |= {"on_duplicate": "update"} | choices
    with capture(execute=True):
        answer = client.post(reverse("prospect_import", args=[prospect_import.pk]), data)
    prospect_import.refresh_from_db()
    return answer


def _issues(prospect_import) -> dict[int, tuple[str, str]]:
    return {i.row_number: (i.kind, i.reason) for i in prospect_import.issues.all()}


FILE = """Work Email,First Name,Last Name,Company Name,Job Title
ana@northwind.test,Ana,Ruiz,Northwind,VP Sales
,Nobody,Here,Nowhere,
not-an-address,Bad,Row,Acme,
ANA@northwind.test,Ana,Again,Northwind,
blocked@rival.test,Bo,Lock,Rival,
mine@acme.test,,,Acme Updated,
theirs@acme.test,Their,Prospect,Changed,

"""


def test_every_row_is_imported_updated_or_reported_with_its_reason(
    client, rep, django_capture_on_commit_callbacks
):
    colleague = UserFactory(organization=rep.organization, email="rep3@acme.test")
    mine = ProspectFactory(
        organization=rep.organization, owner=rep, email="mine@acme.test", first_name="Mia"
    )
    theirs = ProspectFactory(
        organization=rep.organization, owner=colleague, email="theirs@acme.test"
    )
    suppression_add(organization_id=rep.organization_id, value="rival.test", reason="manual")
    client.force_login(rep)

    answer = _upload(client, FILE)
    prospect_import = ProspectImport.objects.get()
    assert answer.url == reverse("prospect_import", args=[prospect_import.pk])
    mapping_page = client.get(answer.url).content.decode()
    assert "Work Email" in mapping_page and "ana@northwind.test" in mapping_page  # sample rows
    assert prospect_import.mapping == {
        "email": 0,
        "first_name": 1,
        "last_name": 2,
        "company": 3,
        "title": 4,
    }

    _start(client, prospect_import, django_capture_on_commit_callbacks)
    assert prospect_import.status == ProspectImport.Status.DONE
    assert (prospect_import.rows_done, prospect_import.total_rows) == (8, 8)
    ana = Prospect.objects.get(email="ana@northwind.test")
    assert (ana.first_name, ana.company, ana.title, ana.owner) == (
        "Ana",
        "Northwind",
        "VP Sales",
        rep,
    )
    issues = _issues(prospect_import)
    assert issues[3] == ("error", "No email address in this row.")
    assert issues[4] == ("error", "“not-an-address” is not an email address.")
    assert issues[5] == ("skipped", "The same address as row 2: only that row is used.")
    assert issues[6][0] == "flagged" and "rival.test is on the suppression list" in issues[6][1]
    assert issues[8][0] == "skipped" and "another rep" in issues[8][1]
    assert set(issues) == {3, 4, 5, 6, 8}
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.first_name, mine.company) == ("Mia", "Acme Updated")  # empty cells keep values
    assert theirs.company != "Changed"
    assert (
        prospect_import.created_count,
        prospect_import.updated_count,
        prospect_import.skipped_count,
        prospect_import.error_count,
        prospect_import.flagged_count,
    ) == (2, 1, 2, 2, 1)
    assert prospect_import.content == ""  # the issues keep the rows; the file is not kept

    report = client.get(reverse("prospect_import", args=[prospect_import.pk])).content.decode()
    assert "Rows to check (5)" in report and "No email address in this row." in report
    download = client.get(reverse("prospect_import_issues", args=[prospect_import.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == [
        "row",
        "what happened",
        "reason",
        "Work Email",
        "First Name",
        "Last Name",
        "Company Name",
        "Job Title",
    ]
    assert rows[2] == [
        "4",
        "Not imported",
        "“not-an-address” is not an email address.",
        "not-an-address",
        "Bad",
        "Row",
        "Acme",
        "",
    ]


def test_skip_leaves_existing_prospects_as_they_are(
    client, rep, django_capture_on_commit_callbacks
):
    mine = ProspectFactory(organization=rep.organization, owner=rep, email="mine@acme.test")
    client.force_login(rep)
    _upload(client, "email;company\nmine@acme.test;New Co\nnew@acme.test;New Co\n")
    prospect_import = ProspectImport.objects.get()
    assert prospect_import.delimiter == ";"
    _start(client, prospect_import, django_capture_on_commit_callbacks, on_duplicate="skip")
    mine.refresh_from_db()
    assert mine.company != "New Co"
    assert _issues(prospect_import)[2][0] == "skipped"
    assert Prospect.objects.get(email="new@acme.test").company == "New Co"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "The submitted file is empty."),
        (b"email\n", "no prospects under it"),
        ("email,name\nann@x.test,J\xf6rg\n".encode("latin-1"), "not UTF-8 text"),
        (b"\nemail\nann@x.test\n", "The first row is empty"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_the_reason(client, rep, raw, error):
    client.force_login(rep)
    page = _upload(client, raw).content.decode()
    assert error in page
    assert not ProspectImport.objects.exists()


def test_a_korean_excel_csv_in_cp949_imports_with_its_korean_headings(
    client, rep, django_capture_on_commit_callbacks
):
    """Excel in Korean saves CSV in CP949, not UTF-8: the file is read as such, and its Korean
    column headings are matched like the English ones."""
    client.force_login(rep)
    text = "이메일,성,이름,회사,직함\nminjun@hanbit.test,김,민준,한빛상사,영업팀장\n"
    _upload(client, text.encode("cp949"))
    prospect_import = ProspectImport.objects.get()
    assert prospect_import.mapping == {
        "email": 0,
        "last_name": 1,
        "first_name": 2,
        "company": 3,
        "title": 4,
    }
    _start(client, prospect_import, django_capture_on_commit_callbacks)
    prospect = Prospect.objects.get(email="minjun@hanbit.test")
    assert (prospect.last_name, prospect.first_name, prospect.company, prospect.title) == (
        "김",
        "민준",
        "한빛상사",
        "영업팀장",
    )


def test_the_email_column_must_be_picked(client, rep, django_capture_on_commit_callbacks):
    client.force_login(rep)
    _upload(client, "who,where\nann@x.test,Acme\n")
    prospect_import = ProspectImport.objects.get()
    assert prospect_import.mapping == {}
    page = _start(client, prospect_import, django_capture_on_commit_callbacks).content.decode()
    assert "This field is required." in page
    assert prospect_import.status == ProspectImport.Status.MAPPING
    _start(client, prospect_import, django_capture_on_commit_callbacks, column_email=0)
    assert Prospect.objects.filter(email="ann@x.test").exists()


def test_an_import_that_stops_midway_resumes_without_losing_or_doubling_a_row(
    client, rep, monkeypatch, django_capture_on_commit_callbacks
):
    client.force_login(rep)
    lines = "\n".join(f"lead{n}@x.test,Lead {n}" for n in range(10))
    _upload(client, "email,first name\n" + lines + "\nlead0@x.test,Copy\n")
    prospect_import = ProspectImport.objects.get()
    real_save = imports._chunk_save
    calls = []

    def dies_on_the_third_chunk(chunk, rows_by_email):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker lost")
        return real_save(chunk, rows_by_email)

    monkeypatch.setattr(imports, "_chunk_save", dies_on_the_third_chunk)
    _start_only(client, prospect_import)
    with pytest.raises(RuntimeError):
        prospect_import_process(import_id=prospect_import.pk, chunk_rows=4)
    prospect_import.refresh_from_db()
    assert (prospect_import.status, prospect_import.rows_done) == ("running", 8)
    monkeypatch.setattr(imports, "_chunk_save", real_save)
    prospect_import_process(import_id=prospect_import.pk, chunk_rows=4)
    prospect_import.refresh_from_db()
    assert prospect_import.status == ProspectImport.Status.DONE
    assert Prospect.objects.filter(email__startswith="lead").count() == 10
    assert _issues(prospect_import) == {
        12: ("skipped", "The same address as row 2: only that row is used.")
    }


def _start_only(client, prospect_import) -> None:
    """Confirm the columns without running the task (its on-commit callback never runs)."""
    client.post(
        reverse("prospect_import", args=[prospect_import.pk]),
        {"column_email": 0, "column_first_name": 1, "on_duplicate": "update"},
    )


def test_an_import_is_seen_only_by_who_started_it_and_admins(
    client, rep, org_admin, other_org_user
):
    client.force_login(rep)
    _upload(client, "email\nann@x.test\n")
    prospect_import = ProspectImport.objects.get()
    url = reverse("prospect_import", args=[prospect_import.pk])
    colleague = UserFactory(organization=rep.organization, email="rep3@acme.test")
    for user, status in ((colleague, 404), (other_org_user, 404), (org_admin, 200)):
        client.force_login(user)
        assert client.get(url).status_code == status
