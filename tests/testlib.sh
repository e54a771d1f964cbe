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

# The corpus tests' style: fail counts into $failures; expect CODE ARGS... runs lstmlm ARGS
# (output in $tmp/out and $tmp/err) and checks its exit code; has FILE TEXT checks that FILE
# holds the fixed string TEXT.
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
expect() {
    want=$1
    shift
    "$LSTMLM" "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "lstmlm $* exited $got, expected $want"
        sed 's/^/    /' "$tmp/err"
    fi
}
has() {
    grep -F -q -- "$2" "$1" || { fail "$1 lacks '$2'"; sed 's/^/    /' "$1" | head -20; }
}
