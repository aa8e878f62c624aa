"""Prospects from a CSV file: upload (read the header, guess which column is which), the
user's confirmation of the columns, then a Celery task that reads the rows a chunk at a time.

Nothing is lost silently: every row is imported, updated, or kept as an issue with the reason
(not imported, skipped as a duplicate, or imported but flagged because Mailroom will not email
it). Each chunk commits its prospects, its issues and the import's progress together, so a
worker that dies mid-file resumes after the last committed chunk, never importing a row twice."""

import csv
import io
from collections.abc import Iterator

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from accounts.models import User
from accounts.selectors import user_list_visible
from core.addresses import address_problem
from suppression.selectors import suppression_reason_text, suppressions_find

from .models import Prospect, ProspectImport, ProspectImportIssue
from .selectors import prospect_list

MAX_FILE_BYTES = 20 * 1024 * 1024  # about 200,000 prospects of typical width
CHUNK_ROWS = 500

# The prospect fields a column can fill, in the order the mapping form shows them (English:
# the stored reasons name them; the form translates them).
IMPORT_FIELDS: dict[str, str] = {
    "email": gettext_noop("Email (required)"),
    "first_name": gettext_noop("First name"),
    "last_name": gettext_noop("Last name"),
    "company": gettext_noop("Company"),
    "title": gettext_noop("Title"),
}
# Headings people use for each field, compared lower-case with spaces, dashes and
# underscores removed.
_HEADINGS: dict[str, set[str]] = {
    "email": {"email", "emailaddress", "mail", "workemail", "businessemail", "e-mail"}
    | {"이메일", "이메일주소", "메일", "메일주소", "전자우편"},
    "first_name": {"firstname", "first", "givenname", "fname", "forename"} | {"이름"},
    "last_name": {"lastname", "last", "surname", "familyname", "lname"} | {"성"},
    "company": {"company", "companyname", "organization", "organisation", "account", "employer"}
    | {"회사", "회사명", "기업", "기업명", "소속"},
    "title": {"title", "jobtitle", "position", "role", "jobrole"}
    | {"직함", "직책", "직위", "직급"},
}

Kind = ProspectImportIssue.Kind
UPDATED_FIELDS = tuple(name for name in IMPORT_FIELDS if name != "email")
_COUNTERS = (
    "rows_done",
    "created_count",
    "updated_count",
    "skipped_count",
    "error_count",
    "flagged_count",
)


def _heading_key(heading: str) -> str:
    return "".join(ch for ch in heading.lower() if ch.isalnum())


def import_mapping_guess(*, headers: list[str]) -> dict[str, int]:
    """Which column each prospect field probably comes from (fields without a match left out)."""
    guess: dict[str, int] = {}
    for column, heading in enumerate(headers):
        key = _heading_key(heading)
        for field, names in _HEADINGS.items():
            if field not in guess and key in {_heading_key(name) for name in names}:
                guess[field] = column
    return guess


# Excel in Korean saves "CSV" in the Windows Korean code page (CP949, a superset of EUC-KR).
# Such a file is taken when it decodes strictly and nearly all of its non-ASCII letters are
# Hangul syllables: Latin-1 or Windows-1252 text read as CP949 gives Hanja and stray symbols.
_KOREAN_CODEC = "cp949"
_HANGUL_SHARE = 0.9


def _as_korean_code_page(raw: bytes) -> str | None:
    try:
        text = raw.decode(_KOREAN_CODEC)
    except UnicodeDecodeError:
        return None
    beyond_ascii = [ch for ch in text if ord(ch) > 127]
    hangul = sum("\uac00" <= ch <= "\ud7a3" for ch in beyond_ascii)
    return text if beyond_ascii and hangul >= _HANGUL_SHARE * len(beyond_ascii) else None


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        korean = _as_korean_code_page(raw)
        if korean is not None:
            return korean
        line = raw[: exc.start].count(b"\n") + 1
        raise ValidationError(
            gettext(
                "The file is not UTF-8 text (the first unreadable byte is on line %(line)s). "
                "Save it as “CSV UTF-8” in your spreadsheet program and upload it again."
            )
            % {"line": f"{line:,}"}
        ) from exc


def _delimiter(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def _records(text: str, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)


@transaction.atomic
def prospect_import_start(*, user: User, file_name: str, raw: bytes) -> ProspectImport:
    """An uploaded file, read enough to show its columns. Raises ValidationError saying what is
    wrong with the file (too large, not UTF-8 text nor Korean CP949, no header, no data rows)."""
    if len(raw) > MAX_FILE_BYTES:
        raise ValidationError(
            gettext(
                "The file is %(size)s MB; the limit is %(limit)s MB. Split it into smaller files."
            )
            % {"size": f"{len(raw) / 1024 / 1024:.1f}", "limit": MAX_FILE_BYTES // 1024 // 1024}
        )
    text = _decode(raw)
    if "\x00" in text:
        raise ValidationError(gettext("The file holds NUL characters: it is not a CSV text file."))
    delimiter = _delimiter(text)
    records = _records(text, delimiter)
    try:
        headers = next(records, None)
        has_rows = any(any(cell.strip() for cell in row) for row in records)
    except csv.Error as exc:
        raise ValidationError(
            gettext("The file cannot be read as CSV: %(error)s.") % {"error": exc}
        ) from exc
    if not text.strip():
        raise ValidationError(gettext("The file is empty."))
    if headers is None or not any(cell.strip() for cell in headers):
        raise ValidationError(
            gettext("The first row is empty: it must name the columns (Email, First name, …).")
        )
    if not has_rows:
        raise ValidationError(
            gettext(
                "The file has a header row but no prospects under it. The first row must name "
                "the columns (Email, First name, …) and each row after it is one prospect."
            )
        )
    prospect_import = ProspectImport(
        organization_id=user.organization_id,
        created_by=user,
        owner=user,
        file_name=file_name[:255],
        content=text,
        delimiter=delimiter,
        headers=[heading.strip() for heading in headers],
        mapping=import_mapping_guess(headers=headers),
    )
    prospect_import.save()
    return prospect_import


@transaction.atomic
def prospect_import_confirm(
    *,
    prospect_import: ProspectImport,
    user: User,
    mapping: dict[str, int],
    on_duplicate: str,
    owner: User,
) -> ProspectImport:
    """The user matched the columns: count the rows and queue the import. Raises
    ValidationError when no column is the email address or a column is used twice."""
    locked = ProspectImport.objects.select_for_update().get(pk=prospect_import.pk)
    if locked.status != ProspectImport.Status.MAPPING:
        raise ValidationError(gettext("This import has already started."))
    if "email" not in mapping:
        raise ValidationError(gettext("Pick the column that holds the email address."))
    used = list(mapping.values())
    if len(used) != len(set(used)):
        raise ValidationError(
            gettext("Each column can fill one field only: a column is picked twice.")
        )
    if any(not 0 <= column < len(locked.headers) for column in used):
        raise ValidationError(gettext("Pick columns of the file."))
    if on_duplicate not in ProspectImport.OnDuplicate.values:
        raise ValidationError(
            gettext("Choose what to do with addresses that are already prospects.")
        )
    if not user_list_visible(user=user).filter(pk=owner.pk).exists():
        raise ValidationError(gettext("Pick an owner from your team."))
    locked.mapping = mapping
    locked.on_duplicate = on_duplicate
    locked.owner = owner
    locked.total_rows = sum(1 for _ in _records(locked.content, locked.delimiter)) - 1
    locked.status = ProspectImport.Status.QUEUED
    locked.save(
        update_fields=["mapping", "on_duplicate", "owner", "total_rows", "status", "updated_at"]
    )
    from .tasks import prospect_import_run

    transaction.on_commit(lambda: prospect_import_run.delay(locked.pk))
    return locked


def _field_limits() -> dict[str, int]:
    return {name: Prospect._meta.get_field(name).max_length for name in IMPORT_FIELDS}


def _row_problem(email: str, values: dict[str, str], limits: dict[str, int]) -> str:
    if not email:
        return "No email address in this row."
    if len(email) > limits["email"]:
        return f"The email address is longer than {limits['email']} characters."
    if problem := address_problem(email):
        return problem
    for field, value in values.items():
        if len(value) > limits[field]:
            return (
                f"{IMPORT_FIELDS[field]} is {len(value):,} characters long; the limit is "
                f"{limits[field]}."
            )
    return ""


class _Chunk:
    """What one chunk of rows does: new prospects, updated ones, issues, and the counts."""

    def __init__(self, prospect_import: ProspectImport):
        self.prospect_import = prospect_import
        self.new: list[Prospect] = []
        self.updated: list[Prospect] = []
        self.issues: list[ProspectImportIssue] = []
        self.skipped = 0
        self.matched = 0  # existing prospects the file's rows were for

    def issue(self, row_number: int, kind: str, email: str, reason: str, cells: list[str]):
        self.issues.append(
            ProspectImportIssue(
                prospect_import=self.prospect_import,
                row_number=row_number,
                kind=kind,
                email=email[:500],
                reason=reason[:1000],
                values=cells,
            )
        )
        if kind == Kind.SKIPPED:
            self.skipped += 1


def _chunk_read(
    prospect_import: ProspectImport,
    rows: list[tuple[int, list[str]]],
    seen: dict[str, int],
) -> _Chunk:
    chunk = _Chunk(prospect_import)
    limits = _field_limits()
    mapping = prospect_import.mapping
    parsed: list[tuple[int, str, dict[str, str], list[str]]] = []
    for row_number, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line holds no prospect
        values = {
            field: (cells[column].strip() if column < len(cells) else "")
            for field, column in mapping.items()
        }
        email = values.pop("email")
        if problem := _row_problem(email, values, limits):
            chunk.issue(row_number, Kind.ERROR, email, problem, cells)
            continue
        key = email.lower()
        if key in seen:
            chunk.issue(
                row_number,
                Kind.SKIPPED,
                email,
                f"The same address as row {seen[key]:,}: only that row is used.",
                cells,
            )
            continue
        seen[key] = row_number
        parsed.append((row_number, email, values, cells))

    keys = [email.lower() for _, email, _, _ in parsed]
    existing = {
        prospect.email_lower: prospect
        for prospect in Prospect.objects.filter(organization_id=prospect_import.organization_id)
        .annotate(email_lower=Lower("email"))
        .filter(email_lower__in=keys)
    }
    editable = set(
        prospect_list(user=prospect_import.created_by)
        .filter(pk__in=[p.pk for p in existing.values()])
        .values_list("pk", flat=True)
    )
    suppressed = suppressions_find(organization_id=prospect_import.organization_id, addresses=keys)
    for row_number, email, values, cells in parsed:
        key = email.lower()
        prospect = existing.get(key)
        if prospect is not None and prospect.pk not in editable:
            chunk.issue(
                row_number,
                Kind.SKIPPED,
                email,
                "Already a prospect of another rep in your organization: left as it is.",
                cells,
            )
            continue
        if prospect is not None and prospect_import.on_duplicate == ProspectImport.OnDuplicate.SKIP:
            chunk.issue(
                row_number,
                Kind.SKIPPED,
                email,
                "Already a prospect: left as it is (you chose to skip existing prospects).",
                cells,
            )
            continue
        if prospect is not None:
            changed = False
            for field, value in values.items():
                # An empty cell never blanks what the prospect already has.
                if value and getattr(prospect, field) != value:
                    setattr(prospect, field, value)
                    changed = True
            chunk.matched += 1
            if changed:  # written only when it changes (a re-import of the same file is cheap)
                prospect.updated_at = timezone.now()
                chunk.updated.append(prospect)
        else:
            prospect = Prospect(
                organization_id=prospect_import.organization_id,
                owner_id=prospect_import.owner_id,
                email=email,
                **values,
            )
            chunk.new.append(prospect)
        if key in suppressed:
            chunk.issue(
                row_number,
                Kind.FLAGGED,
                email,
                f"Imported, but {suppression_reason_text(entry=suppressed[key])} Mailroom will "
                "not email it.",
                cells,
            )
        elif prospect.email_status == Prospect.EmailStatus.INVALID:
            chunk.issue(
                row_number,
                Kind.FLAGGED,
                email,
                f"Updated, but the address is marked invalid: {prospect.invalid_reason}",
                cells,
            )
    return chunk


def _chunk_save(chunk: _Chunk, rows_by_email: dict[str, tuple[int, list[str]]]) -> int:
    """Insert the new prospects; returns how many were created. A prospect added meanwhile by
    someone else (the unique address) becomes a skipped row rather than failing the chunk."""
    try:
        with transaction.atomic():
            Prospect.objects.bulk_create(chunk.new, batch_size=500)
        return len(chunk.new)
    except IntegrityError:
        pass
    created = 0
    for prospect in chunk.new:
        try:
            with transaction.atomic():
                prospect.pk = None
                prospect.save()
            created += 1
        except IntegrityError:
            row_number, cells = rows_by_email[prospect.email.lower()]
            chunk.issue(
                row_number,
                Kind.SKIPPED,
                prospect.email,
                "Added as a prospect by someone else while the file was importing: left as it is.",
                cells,
            )
    return created


def _prospects_update(prospects: list[Prospect]) -> None:
    """Write the changed prospects' fields: one statement run for every row (executemany).
    Django's bulk_update builds a CASE per field per row, about 1,000 rows a second here
    (bench/prospect_import.py); this is the same UPDATE a save would make, without the rest."""
    if not prospects:
        return
    meta = Prospect._meta
    fields = [meta.get_field(name) for name in (*UPDATED_FIELDS, "updated_at")]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    rows = [
        [
            *(field.get_db_prep_save(getattr(p, field.attname), connection) for field in fields),
            p.pk,
        ]
        for p in prospects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def prospect_import_process(*, import_id: int, chunk_rows: int = CHUNK_ROWS) -> None:
    """The import task: read the rows after `rows_done`, a chunk per transaction."""
    prospect_import = (
        ProspectImport.objects.filter(
            pk=import_id,
            status__in=(ProspectImport.Status.QUEUED, ProspectImport.Status.RUNNING),
        )
        .select_related("created_by")
        .first()
    )
    if prospect_import is None:
        return
    records = list(_records(prospect_import.content, prospect_import.delimiter))[1:]
    mapping = prospect_import.mapping
    # Addresses of the rows already done (a resumed import), so a later copy is still a
    # duplicate within the file.
    seen: dict[str, int] = {}
    for index, cells in enumerate(records[: prospect_import.rows_done]):
        column = mapping["email"]
        email = cells[column].strip().lower() if column < len(cells) else ""
        if email:
            seen.setdefault(email, index + 2)
    ProspectImport.objects.filter(pk=import_id).update(
        status=ProspectImport.Status.RUNNING, updated_at=timezone.now()
    )
    start = prospect_import.rows_done
    while start < len(records):
        end = min(start + chunk_rows, len(records))
        rows = [(index + 2, records[index]) for index in range(start, end)]
        with transaction.atomic():
            # Without the file: it is read once above, not at every chunk.
            locked = ProspectImport.objects.select_for_update().defer("content").get(pk=import_id)
            if locked.rows_done != start:
                return  # another run of the task took over
            chunk = _chunk_read(prospect_import, rows, seen)
            rows_by_email = {}
            for row_number, cells in rows:
                column = mapping["email"]
                if column < len(cells):
                    rows_by_email.setdefault(cells[column].strip().lower(), (row_number, cells))
            created = _chunk_save(chunk, rows_by_email)
            _prospects_update(chunk.updated)
            ProspectImportIssue.objects.bulk_create(chunk.issues, batch_size=500)
            locked.rows_done = end
            locked.created_count += created
            locked.updated_count += chunk.matched
            locked.skipped_count += chunk.skipped
            locked.error_count += sum(1 for issue in chunk.issues if issue.kind == Kind.ERROR)
            locked.flagged_count += sum(1 for issue in chunk.issues if issue.kind == Kind.FLAGGED)
            locked.save(update_fields=[*_COUNTERS, "updated_at"])
        start = end
    now = timezone.now()
    ProspectImport.objects.filter(pk=import_id).update(
        status=ProspectImport.Status.DONE,
        content="",
        total_rows=len(records),
        rows_done=len(records),
        finished_at=now,
        updated_at=now,
    )


def prospect_import_fail(*, import_id: int, reason: str) -> None:
    """The task gave up: the page says so; the rows before `rows_done` stay imported."""
    ProspectImport.objects.filter(
        pk=import_id, status__in=(ProspectImport.Status.QUEUED, ProspectImport.Status.RUNNING)
    ).update(
        status=ProspectImport.Status.FAILED,
        failure_reason=reason[:500],
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
