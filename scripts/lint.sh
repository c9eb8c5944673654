#!/usr/bin/env bash
# The style checks of `npm test`: typescript-eslint (tools/lint has its own
# packages, and says why), prettier, and clang-format for native/.
#   bash scripts/lint.sh          check, as CI does
#   bash scripts/lint.sh --fix    rewrite what the tools can
set -euo pipefail
cd "$(dirname "$0")/.."
bin=tools/lint/node_modules/.bin
native=(native/*.c native/*.h native/*.cc)
if [ "${1-}" = --fix ]; then
  "$bin/prettier" --write --log-level warn .
  "$bin/eslint" -c tools/lint/eslint.config.js --fix src test
  clang-format -i "${native[@]}"
else
  "$bin/prettier" --check --log-level warn . || { echo "lint: run \`bash scripts/lint.sh --fix\`" >&2; exit 1; }
  "$bin/eslint" -c tools/lint/eslint.config.js src test
  clang-format --dry-run --Werror "${native[@]}"
fi
