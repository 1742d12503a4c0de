#!/bin/sh
# Installs the project's npm dependencies when they are missing or older than the lock file,
# so `npm start` and `npm test` work on a fresh clone as their first command.
set -eu
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null 2>&1; then
  echo "factory: Node.js 20 or newer is required: install it (for example apt-get install nodejs npm) and run again." >&2
  exit 1
fi
stamp=node_modules/.factory-deps
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  echo "factory: installing npm dependencies (first run only)…" >&2
  # `npm install` honours the lock file; `npm ci` is not used because this npm writes lock files
  # without other platforms' optional packages and then refuses them in `npm ci`.
  npm install --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
