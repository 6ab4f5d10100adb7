# A program that execs another, even after removing LD_PRELOAD and the zap
# variables from its environment, stays under zap.
. "$(dirname "$0")/lib.sh"
roundtrip ex "[ \$(lines $T/ex.1) -ge 10 ]" -- \
	env -u LD_PRELOAD -u ZAP_POD -u ZAP_HOME sh -c "exec $EX/counter 40 50"
