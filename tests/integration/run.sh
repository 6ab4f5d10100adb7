#!/bin/bash
# Runs every t-*.sh (or those named), prints one line per test and ends with
# "N passed, N failed[, N skipped]".  Each test is bounded by TEST_TIMEOUT.
cd "$(dirname "$0")"
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
pass=0 failn=0 skipn=0 failed=""
tests=${*:-$(ls t-*.sh)}
for t in $tests; do
	start=$(date +%s.%N)
	timeout -k 5 "$TEST_TIMEOUT" bash "$t" > "/tmp/zap-$t.log" 2>&1
	rc=$?
	secs=$(echo "$(date +%s.%N) - $start" | bc)
	case $rc in
	0) pass=$((pass + 1)); printf "PASS %-28s %6.1fs\n" "$t" "$secs" ;;
	77) skipn=$((skipn + 1)); printf "SKIP %-28s %s\n" "$t" "$(tail -1 "/tmp/zap-$t.log")" ;;
	*) failn=$((failn + 1)); failed="$failed $t"
	   printf "FAIL %-28s %6.1fs (exit %d)\n" "$t" "$secs" "$rc"
	   sed 's/^/    /' "/tmp/zap-$t.log" | tail -25 ;;
	esac
	rm -f "/tmp/zap-$t.log"
done
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $failn failed, $skipn skipped"
[ $failn -eq 0 ]
