# The web page's browser tests (tests/e2e/test_ui.py) drive a system Chromium with Playwright.
# `make browser` installs Debian's chromium when it is missing; `make test` and `make test-e2e`
# depend on it, so CI (.ci/run) gets the browser without a separate step. TOPICSERVE_CHROMIUM
# points the tests at another Chromium binary instead. Headless Chromium needs only chromium's
# dependencies: its recommends (upower, udev, the printer tools with cups and samba, perl modules)
# were ~90 of the ~110 packages and over half of the install's time on a fresh machine (apt-get
# update + install: 15.8 s with them, 9.8 s without, here; 25 s in a fresh CI).
.PHONY: browser

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:
	@if [ -n "$$TOPICSERVE_CHROMIUM" ] && [ -x "$$TOPICSERVE_CHROMIUM" ]; then \
	  echo "browser: $$TOPICSERVE_CHROMIUM"; \
	elif command -v chromium >/dev/null 2>&1; then \
	  echo "browser: $$(command -v chromium)"; \
	else \
	  echo "browser: installing chromium (apt-get)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; \
	fi

test: browser
test-e2e: browser
