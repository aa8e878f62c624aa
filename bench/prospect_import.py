"""How long a CSV import of prospects takes (issue 14, item 1): the upload step (decode, sniff,
header) and the task that reads the rows, for new prospects, the same file again (every row
an existing prospect, nothing to change), and a file changing every row.

Usage (from the project root):
    python bench/prospect_import.py [--sizes 5000,20000,100000] [--database-url URL]

Without --database-url it migrates a fresh SQLite file, var/bench-prospect-import.sqlite3
(the `make run` database engine); with a PostgreSQL URL the database must exist and be empty
(it is migrated). One in 50 rows has a malformed address and one in 100 repeats an earlier
address, so the issue rows are written too. Prints seconds and rows per second per phase.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def csv_text(rows: int, company: str = "Northwind") -> bytes:
    lines = ["Email,First name,Last name,Company,Title"]
    for n in range(rows):
        if n % 50 == 49:
            email = f"not an address {n}"
        elif n % 100 == 98:
            email = f"lead{n - 50}@northwind.test"
        else:
            email = f"lead{n}@northwind.test"
        lines.append(f"{email},Lead,Number {n},{company} {n % 300},VP Sales")
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="5000,20000,100000")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    sqlite = ROOT / "var" / "bench-prospect-import.sqlite3"
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        sqlite.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{sqlite}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import Organization, User
    from outreach.imports import (
        prospect_import_confirm,
        prospect_import_process,
        prospect_import_start,
    )
    from outreach.models import Prospect

    print("rows | phase | seconds | rows/s")
    for size in map(int, args.sizes.split(",")):
        organization = Organization.objects.create(name=f"Bench {size}", slug=f"bench-{size}")
        user = User.objects.create(
            email=f"rep{size}@bench.test", organization=organization, role=User.Role.REP
        )
        files = {
            "new prospects": csv_text(size),
            "same file again (nothing to change)": csv_text(size),
            "every company changed (updates)": csv_text(size, company="Initech"),
        }
        for phase, raw in files.items():
            start = time.perf_counter()
            prospect_import = prospect_import_start(user=user, file_name="bench.csv", raw=raw)
            prospect_import_confirm(
                prospect_import=prospect_import,
                user=user,
                mapping=prospect_import.mapping,
                on_duplicate="update",
                owner=user,
            )
            uploaded = time.perf_counter()
            prospect_import_process(import_id=prospect_import.pk)
            done = time.perf_counter()
            prospect_import.refresh_from_db()
            assert prospect_import.status == "done", prospect_import.status
            print(
                f"{size:,} | {phase}: upload + confirm | {uploaded - start:.2f} | "
                f"{size / (uploaded - start):,.0f}"
            )
            print(
                f"{size:,} | {phase}: task | {done - uploaded:.2f} | "
                f"{size / (done - uploaded):,.0f}"
                f"  (added {prospect_import.created_count:,}, updated "
                f"{prospect_import.updated_count:,}, rows to check "
                f"{prospect_import.error_count + prospect_import.skipped_count:,})",
                flush=True,
            )
        assert Prospect.objects.filter(organization=organization).count() == size - size // 50 - (
            size // 100
        )


if __name__ == "__main__":
    main()
