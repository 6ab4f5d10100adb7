# bc -l computing pi to 4000 digits, checkpointed mid-computation.
. "$(dirname "$0")/lib.sh"
command -v bc > /dev/null || skip "bc not installed"
printf 'scale=4000\n4*a(1)\nquit\n' > pi.bc
# bc prints only at the end: checkpoint once it has computed for a while
roundtrip bc "[ \$(ps -o times= -p \$(cat $ZAP_HOME/pods/bc/pid 2>/dev/null || echo 1) 2>/dev/null || echo 0) -ge 2 ]" -- bc -l pi.bc
[ "$(tr -d '\\\n' < bc.joined | wc -c)" -ge 4000 ] || fail "fewer than 4000 digits"
