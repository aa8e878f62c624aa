# Two commands set Mailroom up on a fresh machine with only python3:
#   make run   — virtualenv, migrations, demo data, then web + Celery worker + beat + sandbox
#   make test  — virtualenv with the test tools, then the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test check lint venv dev-venv clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

venv: $(VENV)/.runtime
dev-venv: $(VENV)/.dev

run: venv
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py setup_periodic_tasks
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "  Mailroom is starting at http://127.0.0.1:$(PORT)/"
	@echo "  Demo logins (password: mailroom):"
	@echo "    rep@acme.test       a sales rep (also rep2@acme.test)"
	@echo "    manager@acme.test   the East team's sales manager"
	@echo "    admin@acme.test     Acme's organization admin (Django admin at /admin/: Acme's rows only)"
	@echo "    operator@mailroom.test  the platform operator (superuser: every organization in /admin/)"
	@echo "    rep@legacy.test     a rep of a legacy organization"
	@echo "    rep@hanbit.test     a rep of 한빛 세일즈, who reads Mailroom in Korean"
	@echo "    manager@hanbit.test its manager, who has chosen English"
	@echo "  Sandbox (fake Google, Microsoft, SMTP): http://127.0.0.1:8900/_sandbox/"
	@echo "  Stop with Ctrl-C."
	@echo
	WEB_PORT=$(PORT) $(BIN)/honcho start -f Procfile

test: dev-venv
	$(BIN)/python -m pytest

lint: dev-venv
	$(BIN)/ruff check .

# The habits CI guards, cheapest first; the first that fails stops the run with one line saying
# which and how to fix it. `.ci/run` runs this before `make test`.
check: dev-venv
	@$(BIN)/ruff format --check --quiet . || { echo "check failed: ruff format --check (fix: $(BIN)/ruff format .)"; exit 1; }
	@$(BIN)/ruff check --quiet . || { echo "check failed: ruff check (fix what it lists; many: $(BIN)/ruff check --fix .)"; exit 1; }
	@$(BIN)/python manage.py makemigrations --check --dry-run >/dev/null || { echo "check failed: a model change has no migration (fix: $(BIN)/python manage.py makemigrations)"; exit 1; }
	@$(BIN)/lint-imports --no-cache >/dev/null || { $(BIN)/lint-imports --no-cache | tail -n +12; echo "check failed: import-linter contracts (.importlinter; README, Architecture)"; exit 1; }
	@$(BIN)/mypy || { echo "check failed: mypy (pyproject.toml [tool.mypy])"; exit 1; }
	@echo "check passed: ruff format, ruff check, makemigrations, import-linter, mypy"

# Translations (README, "Languages"): refresh locale/ko from the code and templates, then compile
# it. Needs GNU gettext (Debian's gettext package). The compiled .mo is committed, so make run
# needs no gettext; tests/core/test_translations.py fails on a missing, fuzzy or stale entry.
MESSAGES_IGNORE = --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=node_modules
messages: dev-venv
	$(BIN)/python manage.py makemessages -l ko --no-obsolete --no-location $(MESSAGES_IGNORE)
	$(BIN)/python manage.py compilemessages -l ko $(MESSAGES_IGNORE)

clean:
	rm -rf $(VENV) var db.sqlite3 db.sqlite3-*
