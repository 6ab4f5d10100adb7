# The wrappers that hand out other processes' pids (fork, vfork, _Fork,
# clone, posix_spawn, fork+exec, the wait family, getppid, si_pid in
# handlers and sigtimedwait), without a restart: under a pod table made by
# hand (tests/tools/mkvtab) in which every pid the kernel will hand out next
# is already the vpid of a member that is gone, so each new process
# collides and gets a vpid above any real pid.  Also natively and under the
# preload without a table, where every vpid is the real pid.
. "$(dirname "$0")/lib.sh"
K=$PROGS/vtabkids
PRE=$B/lib/zap/libzappre.so
VT=$ZAP_HOME/pods/vt/vtab
mkdir -p "$ZAP_HOME/pods/vt"
"$K" > native.out || fail "natively: $(grep FAIL native.out)"
LD_PRELOAD=$PRE ZAP_POD=vt "$K" > plain.out || fail "under the preload, no table: $(grep FAIL plain.out)"
"$B/tests/mkvtab" "$VT" create fill-next 3000 || skip "cannot make the table"
LD_PRELOAD=$PRE ZAP_POD=vt "$K" high > table.out || fail "under a table: $(grep FAIL table.out)"
grep -q "^done, 0 failed" table.out || fail "under a table: did not finish: $(tail -3 table.out)"
# every child reaped left the table
"$B/tests/mkvtab" "$VT" dump > dump
for r in $(awk '/^reaped/ {print $2}' table.out); do
	grep -q " $r\$" dump && fail "child $r was reaped but is still in the table"
done
note "$(grep -c '^ok' table.out) checks under the table, $(grep '^self' table.out)"
