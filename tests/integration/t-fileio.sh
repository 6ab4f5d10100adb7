# Files at offsets, an O_APPEND log, a deleted-but-open file, a dup'ed fd and
# a directory fd: checkpoint --kill, restart, same output and same files.
. "$(dirname "$0")/lib.sh"
mkdir -p ref run
"$EX/fileio" "$T/ref" 30 1 > fileio.ref
start_pod fileio "$T/fileio.1" -- "$EX/fileio" "$T/run" 30 60
wait_for "[ \$(lines $T/fileio.1) -ge 12 ]" 30 || fail "fileio did not progress"
checkpoint_kill fileio
"$ZAP" inspect "$ZAP_HOME/pods/fileio/image" > inspect.out || fail "inspect failed"
grep -q "deleted" inspect.out || fail "the deleted file is not in the image"
grep -q "same as fd" inspect.out || fail "the dup'ed fd was not recognised"
restart_bg "$ZAP_HOME/pods/fileio/image" "$T/fileio.2"
wait $! || fail "restart failed: $(cat fileio.2.err)"
cat fileio.1 fileio.2 > fileio.joined
same fileio.joined fileio.ref
same ref/data.bin run/data.bin
same ref/log.txt run/log.txt
