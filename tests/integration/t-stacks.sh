# `zap inspect --stacks`: backtraces unwound from the image, after the
# processes are gone, start where the checkpoint signal interrupted them.
. "$(dirname "$0")/lib.sh"

# stacks NAME: checkpoint --kill the pod, then its backtraces into NAME.st
stacks() {
	checkpoint_kill "$1"
	"$ZAP" inspect --stacks "$ZAP_HOME/pods/$1/image" > "$T/$1.st" 2> "$T/$1.st.err" ||
		fail "$1: inspect --stacks exited $?: $(cat "$T/$1.st.err")"
	"$ZAP" inspect --stacks --json "$ZAP_HOME/pods/$1/image" > "$T/$1.json" ||
		fail "$1: inspect --stacks --json failed"
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert all(t["stack"] for p in d["processes"] for t in p["threads"])' "$T/$1.json" ||
		fail "$1: the JSON is not valid or a thread has no stack"
}
# has NAME PATTERN: some frame of NAME matches PATTERN
has() { grep -E "^ +#[0-9]+ .*$2" "$T/$1.st" > /dev/null || { cat "$T/$1.st" >&2; fail "$1: no frame matches /$2/"; }; }

start_pod counter "$T/counter.1" -- "$EX/counter" 1000 50
wait_for "[ \$(lines $T/counter.1) -ge 3 ]" 30 || fail "counter: no progress"
stacks counter
has counter ' main\+0x'
has counter ' (clock_)?nanosleep\+0x'
grep -q '^ *(' "$T/counter.st" && fail "counter: unwinding stopped early: $(grep '^ *(' "$T/counter.st")"

start_pod threads "$T/threads.1" -- "$EX/threads" 60 20000000
wait_for "[ \$(lines $T/threads.1) -ge 8 ]" 30 || fail "threads: no progress"
stacks threads
n=$(awk '/^    tid / { tid = $2 } / worker\+0x/ { seen[tid] = 1 } END { print length(seen) }' "$T/threads.st")
[ "$n" = 4 ] || { cat "$T/threads.st" >&2; fail "threads: $n threads show a worker frame, expected 4"; }
# glibc's own functions are named when it has its .symtab (unstripped, or a
# debug file such as Debian's libc6-dbg); else only its exported ones are
libc=$(grep -m1 -oE '/[^ ]*/libc\.so\.6$' "$T/threads.st")
id=$(readelf -n "$libc" 2>/dev/null | awk '/Build ID/ { print $3 }')
if [ -f "/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" ] || nm "$libc" 2>/dev/null | grep -q ' start_thread$'; then
	has threads ' start_thread\+0x'
	has threads ' clone3?\+0x'
else
	note "no symbols for $libc: start_thread and clone not checked"
	has threads 'libc\.so\.6$'
fi

# a file that changed after the checkpoint is not read: the backtrace stops
# there with the reason, and inspect still succeeds; one deleted before it
# is stored whole, and unwinds from the image
cp "$EX/counter" changed
cp "$EX/counter" deleted
start_pod changed "$T/changed.1" -- "$T/changed" 1000 50
start_pod deleted "$T/deleted.1" -- "$T/deleted" 1000 50
wait_for "[ \$(lines $T/changed.1) -ge 3 ] && [ \$(lines $T/deleted.1) -ge 3 ]" 30 || fail "no progress"
rm deleted
stacks deleted
has deleted '__libc_start_main\+0x'
grep -q '^ *(' "$T/deleted.st" && fail "deleted: unwinding stopped early: $(grep '^ *(' "$T/deleted.st")"
checkpoint_kill changed
touch -d '2001-01-01' changed
"$ZAP" inspect --stacks "$ZAP_HOME/pods/changed/image" > "$T/changed.st" || fail "changed: inspect failed"
grep -q 'changed is not the file that was mapped' "$T/changed.st" || { cat "$T/changed.st" >&2; fail "changed: no reason given"; }
has changed ' nanosleep\+0x'

PY=$(command -v python3) || skip "python3 not installed"
start_pod python "$T/python.1" -- "$PY" -c $'import time\nprint("ready", flush=True)\nwhile True: time.sleep(0.1)'
wait_for "grep -q ready $T/python.1" 30 || fail "python: not ready"
stacks python
has python '/(libpython[^ /]*|python3[.0-9]*)$'
note "python: $(grep -cE '^ +#[0-9]+ .*/(libpython[^ /]*|python3[.0-9]*)$' "$T/python.st") frames in python"
