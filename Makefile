# The two commands of the README. Both install what is missing first.
.PHONY: dev test

# Run Redchat with live reload at http://127.0.0.1:3000 (starts a Redis if none answers).
dev:
	./scripts/dev.sh

# Every check and test: fmt, clippy (ssr + hydrate), Rust tests, Playwright.
test:
	./scripts/test.sh
