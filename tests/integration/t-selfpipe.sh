# Pipes a program keeps to itself come back with the bytes waiting in them.
. "$(dirname "$0")/lib.sh"
roundtrip sp "[ \$(lines $T/sp.1) -ge 12 ]" -- "$PROGS/selfpipe" 40
"$ZAP" inspect "$ZAP_HOME/pods/sp/image" > sp.inspect
for fd in 3:pipe-read 4:pipe-write 20:pipe-write 21:pipe-read; do
	grep -Eq "^ +${fd%%:*} ${fd#*:} " sp.inspect || fail "fd ${fd%%:*} is not a ${fd#*:}: $(grep pipe sp.inspect)"
done

# a UNIX socketpair kept to itself, with bytes waiting in both ends
roundtrip spair "[ \$(lines $T/spair.1) -ge 12 ]" -- "$PROGS/sockpair" 40
"$ZAP" inspect "$ZAP_HOME/pods/spair/image" | grep -Eq "^ +4 socketpair " || fail "inspect shows no socketpair"
