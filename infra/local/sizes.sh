#!/usr/bin/env bash
# Every function binary of the template, built as `sam build` builds it (release, one binary
# per cargo invocation, so each links only its own package's features), stripped and zipped as
# Lambda's `bootstrap`. Fails when one is over its budget: 8 MiB stripped, 3 MiB zipped.
# Prints a Markdown table (docs/BENCHMARKS.md). SIZES_TARGET picks a target triple (default:
# this machine's; Lambda runs aarch64-unknown-linux-gnu).
set -euo pipefail
cd "$(dirname "$0")/../.."
# Dummy credentials: nothing here talks to AWS, and nothing may.
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true
BIN_BUDGET=$((8 * 1024 * 1024))
ZIP_BUDGET=$((3 * 1024 * 1024))
target_args=()
dir="${CARGO_TARGET_DIR:-target}/release"
if [ -n "${SIZES_TARGET:-}" ]; then
  target_args=(--target "$SIZES_TARGET")
  dir="${CARGO_TARGET_DIR:-target}/$SIZES_TARGET/release"
fi
bins=$(grep -E '^\s+Binary:' infra/template.yaml | awk '{print $2}' | sort -u)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
printf '| function binary | stripped | zipped |\n|---|---|---|\n'
for bin in $bins; do
  cargo build --quiet --release "${target_args[@]}" --bin "$bin" >&2
  size=$(stat -c %s "$dir/$bin")
  rm -f "$work/bootstrap" "$work/$bin.zip"
  cp "$dir/$bin" "$work/bootstrap"
  (cd "$work" && python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED,compresslevel=9); z.write('bootstrap'); z.close()" "$bin.zip")
  zsize=$(stat -c %s "$work/$bin.zip")
  mark=""
  if [ "$size" -gt "$BIN_BUDGET" ] || [ "$zsize" -gt "$ZIP_BUDGET" ]; then mark=" **over budget**"; fail=1; fi
  printf '| `%s` | %s MiB | %s MiB%s |\n' "$bin" "$(awk -v s="$size" 'BEGIN{printf "%.2f", s/1048576}')" "$(awk -v s="$zsize" 'BEGIN{printf "%.2f", s/1048576}')" "$mark"
done
printf '\nbudgets: %d MiB stripped, %d MiB zipped\n' $((BIN_BUDGET / 1048576)) $((ZIP_BUDGET / 1048576))
exit $fail
