# The two commands of the README. Both install what is missing and skip what is there.
.PHONY: demo test

# The dashboard in demo mode (built-in simulator, SQLite under ./data) on http://127.0.0.1:3000
demo:
	bash .ci/setup
	DASHBOARD_DEMO=true cargo leptos serve --release --precompress

# Every suite: lints, unit, integration (SQLite + PostgreSQL) and browser tests.
test:
	bash .ci/test
