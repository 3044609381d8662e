# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres lint i18n migration clean browser

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/medvirk run

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n auto

# Debian's Chromium, an emoji font (so the bot's buttons render) and Noto's core fonts (Arabic and
# Ethiopic: Tigrinya's script has no glyph in Chromium's default fonts) for the browser tests;
# Playwright drives it by path and downloads no browser. Needs root; without it the browser
# tests skip, except in CI, where they fail.
CHROMIUM := /usr/bin/chromium
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
ETHIOPIC_FONT := /usr/share/fonts/truetype/noto/NotoSansEthiopic-Regular.ttf
BROWSER_PACKAGES := chromium fonts-noto-color-emoji fonts-noto-core
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -f $(EMOJI_FONT) ] || [ ! -f $(ETHIOPIC_FONT) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -q $(BROWSER_PACKAGES) \
				|| { apt-get update -q && apt-get install -y -q $(BROWSER_PACKAGES); }; \
		else \
			echo "Chromium or a font is missing: as root, apt-get install $(BROWSER_PACKAGES)"; \
		fi; \
	fi

# The domain and end-to-end tests again, on PostgreSQL.
test-postgres: $(STAMP)
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test} \
		$(BIN)/python -m pytest -q -n auto -m postgres

# ruff, mypy, and the import contracts of pyproject.toml ([tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Re-extract UI strings and merge them into every catalogue (handlers/locales/*/), keeping each
# one's X-Checked-By-Native-Speaker header; English is filled in as its own translation. Then
# translate the new empty entries in nb and nn (the other languages: their translators).
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o handlers/locales/medvirk.pot --no-location --omit-header --no-wrap .
	$(BIN)/python -c "from bot.catalogues import update_all; update_all()"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache

# After changing a table: write the next migration (review it before committing).
migration: $(STAMP)
	$(BIN)/python -c "import asyncio, sys; from bot.db import autogenerate; asyncio.run(autogenerate(sys.argv[1]))" "$(MESSAGE)"
