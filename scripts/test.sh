#!/usr/bin/env bash
# The README's test command: format, lints, build, and every test.
set -euo pipefail
exec "$(dirname "$0")/check.sh"
