# Two commands a fresh machine needs: `make run` (the app on :8501) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-requirements

.PHONY: run test demo bench load lint

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/streamlit run streamlit_app.py --server.port 8501

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy  # the application code's types (files and settings: pyproject.toml [tool.mypy])
	$(BIN)/pytest -n 2  # two workers: most of the suite waits on servers and browsers

demo: $(STAMP)
	$(BIN)/python -m simulators.demo

bench: $(STAMP)
	$(BIN)/python -m bench.run

load: $(STAMP)
	$(BIN)/python -m bench.load --chats 100

lint: $(STAMP)
	$(BIN)/ruff check .
