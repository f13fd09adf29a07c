#!/usr/bin/env bash
# Every function binary of the template, built as `sam build` builds it (release, one binary
# per cargo invocation, so each links only its own package's features), stripped and zipped as
# Lambda's `bootstrap`. Fails when one is over its budget: 8 MiB stripped, 3 MiB zipped (the
# notifier 3.72 MiB zipped, below).
# Prints a Markdown table (docs/BENCHMARKS.md). SIZES_TARGET picks a target triple (default:
# this machine's; Lambda runs aarch64-unknown-linux-gnu). SIZES_BINS="console store" measures
# only those binaries of the template (a new function, without rebuilding all of them).
#
# `sizes.sh --built DIR` builds nothing: it measures the `bootstrap` files under DIR (what
# `sam build` left in .aws-sam/build/<Function>/), and `make deploy` runs it so that no
# function over its budget is deployed.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Dummy credentials: nothing here talks to AWS, and nothing may.
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true
BIN_BUDGET=${SIZES_BIN_BUDGET:-$((8 * 1024 * 1024))}
ZIP_BUDGET=${SIZES_ZIP_BUDGET:-$((3 * 1024 * 1024))}
# The functions that write PDFs with printpdf (the notifier's sheets; the payout run's and the
# payout sandbox's statements) link its serializer's 654 KB ICC colour profile and WOFF2
# (brotli) decoder whatever the document: the notifier measured 3,824,075 bytes zipped
# (2026-12-04), so their zip budget is that plus 2 % (docs/BENCHMARKS.md, issue 17). No other
# function gets more than ZIP_BUDGET, but one: the payout sandbox (test stacks only) links
# lambda_http beside printpdf and the run, measured 3,967,824 bytes zipped (2026-12-04): its
# budget is that plus 2 %.
NOTIFY_ZIP_BUDGET=${SIZES_NOTIFY_ZIP_BUDGET:-3900557}
PAYOUT_SANDBOX_ZIP_BUDGET=${SIZES_PAYOUT_SANDBOX_ZIP_BUDGET:-4047180}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

# measure NAME PATH: one table row; marks the run failed when over a budget.
measure() {
  local name=$1 path=$2 size zsize mark="" zip_budget=$ZIP_BUDGET
  case $name in
    notify | NotifyFunction | payout-run | PayoutRunFunction) zip_budget=$NOTIFY_ZIP_BUDGET ;;
    payouts-sandbox | PayoutSandboxFunction) zip_budget=$PAYOUT_SANDBOX_ZIP_BUDGET ;;
  esac
  size=$(stat -c %s "$path")
  rm -f "$work/bootstrap" "$work/f.zip"
  cp "$path" "$work/bootstrap"
  (cd "$work" && python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED,compresslevel=9); z.write('bootstrap'); z.close()" f.zip)
  zsize=$(stat -c %s "$work/f.zip")
  if [ "$size" -gt "$BIN_BUDGET" ] || [ "$zsize" -gt "$zip_budget" ]; then mark=" **over budget**"; fail=1; fi
  printf '| `%s` | %s MiB | %s MiB%s |\n' "$name" "$(awk -v s="$size" 'BEGIN{printf "%.2f", s/1048576}')" "$(awk -v s="$zsize" 'BEGIN{printf "%.2f", s/1048576}')" "$mark"
}

printf '| function binary | stripped | zipped |\n|---|---|---|\n'
if [ "${1:-}" = "--built" ]; then
  dir=${2:?"--built DIR"}
  found=0
  for f in "$dir"/*/bootstrap; do
    [ -f "$f" ] || continue
    found=1
    measure "$(basename "$(dirname "$f")")" "$f"
  done
  [ "$found" -eq 1 ] || { echo "no */bootstrap under $dir" >&2; exit 2; }
else
  target_args=()
  dir="${CARGO_TARGET_DIR:-target}/release"
  if [ -n "${SIZES_TARGET:-}" ]; then
    target_args=(--target "$SIZES_TARGET")
    dir="${CARGO_TARGET_DIR:-target}/$SIZES_TARGET/release"
  fi
  bins=$(grep -E '^\s+Binary:' infra/template.yaml | awk '{print $2}' | sort -u)
  if [ -n "${SIZES_BINS:-}" ]; then
    for bin in $SIZES_BINS; do
      grep -qx "$bin" <<<"$bins" || { echo "$bin: not a Binary of infra/template.yaml" >&2; exit 2; }
    done
    bins=$SIZES_BINS
  fi
  for bin in $bins; do
    cargo build --quiet --release "${target_args[@]}" --bin "$bin" >&2
    measure "$bin" "$dir/$bin"
  done
fi
printf '\nbudgets: %s bytes stripped, %s bytes zipped (notify: %s)\n' "$BIN_BUDGET" "$ZIP_BUDGET" "$NOTIFY_ZIP_BUDGET"
exit $fail
