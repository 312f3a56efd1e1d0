#!/usr/bin/env bash
# Fails when nbdev_clean or nbdev_export would change a tracked file, or README.md is stale.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
before=$(git status --porcelain --untracked-files=all | sort)
nbdev_clean
nbdev_export
python tools/build_readme.py
after=$(git status --porcelain --untracked-files=all | sort)
if [ "$before" != "$after" ]; then
  echo "FAIL: nbdev_clean / nbdev_export / README build changed files:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  git --no-pager diff --stat >&2
  exit 1
fi
echo "sync: notebooks clean, group_agf/ and README.md in sync with nbs/"
