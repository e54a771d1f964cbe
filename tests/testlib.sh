# testlib.sh - sourced by the shell tests (set name= first): the srcdir and LSTMLM defaults, a
# temporary folder removed at exit, and the ok/bad/check/status/field helpers they report with.
: "${srcdir:=.}"
: "${LSTMLM:=./src/lstmlm}"
tmp=$(mktemp -d "/tmp/lstmlm-${name:-test}-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
# Runs a command with its output in $tmp/out and $tmp/err; prints its exit status.
status() { "$@" > "$tmp/out" 2> "$tmp/err"; echo $?; }
# The last word of the first line of file $2 that starts with $1.
field() { awk -v k="$1" 'index($0, k) == 1 { print $NF; exit }' "$2"; }
