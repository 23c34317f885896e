# Shortcuts to the scripts; the scripts are the real thing and run from anywhere.
.PHONY: all build test media media-quick start stop

all: build

# Release binaries, as start-all.sh uses them.
build:
	cargo build --release --bins

# The whole gate: fmt, clippy -D warnings, build, every test.
test:
	./scripts/test.sh

# The demo music library under media/ (MEDIA_DIR overrides); only missing tracks are made.
media:
	./scripts/make-media.sh

# Three short tracks, for tests.
media-quick:
	./scripts/make-media.sh --quick

start:
	./scripts/start-all.sh

stop:
	./scripts/stop-all.sh
