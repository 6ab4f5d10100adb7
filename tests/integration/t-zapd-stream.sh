# zapd refuses a damaged image stream and keeps nothing of it: a byte
# altered on the way (its checksum made to match, so that only the stream's
# HMAC tells), a wrong file checksum, more bytes than announced, a stream
# cut short, a MAC from another session; the same for a real image sent
# in two passes (page data after META); and a client that is not zap at
# all.  zapd stays up through all of them.  (tests/tools/zapsend.c damages
# the stream; loopback, no root needed.)
. "$(dirname "$0")/lib.sh"
ZAPSEND=$B/tests/zapsend
[ -x "$ZAPSEND" ] || fail "$ZAPSEND is missing: make all"
PORT=$((20000 + $$ % 20000))
ADDR=127.0.0.1:$PORT
"$ZAP" keygen "$T/key" || fail "keygen"
mkdir -p "$T/img"
head -c 200000 /dev/urandom > "$T/img/1.img"
head -c 5000 /dev/urandom > "$T/img/pod.img"
"$B/bin/zapd" --listen "$ADDR" --key "$T/key" 2> "$T/zapd.err" &
ZAPD=$!
wait_for "grep -q 'listening on' $T/zapd.err" 10 || fail "zapd did not start: $(cat "$T/zapd.err")"

for mode in flip:"end-to-end digest" badsum:"fails its checksum" long:"beyond the announced length" \
	truncate:"end-to-end digest" replay:"end-to-end digest"; do
	m=${mode%%:*} want=${mode#*:}
	timeout 30 "$ZAPSEND" "$ADDR" "$T/key" "$m" "p-$m" "$T/img/1.img" "$T/img/pod.img" > "$T/$m.out" 2>&1 ||
		fail "$m: zapd did not refuse the stream: $(cat "$T/$m.out")"
	grep -q "$want" "$T/$m.out" || fail "$m: the refusal does not say '$want': $(cat "$T/$m.out")"
	note "$m: $(cat "$T/$m.out")"
	kill -0 $ZAPD || fail "$m: zapd died: $(tail -3 "$T/zapd.err")"
done
[ -z "$(ls "$ZAP_HOME/incoming" 2> /dev/null)" ] || fail "incoming/ keeps: $(ls "$ZAP_HOME/incoming")"
[ -z "$(ls "$ZAP_HOME/pods" 2> /dev/null)" ] || fail "a damaged stream was restarted: $(ls "$ZAP_HOME/pods")"

# The same for a real image sent as zap migrate sends it: page data after
# META, zapd restarting the pod before the pages are in.  A bad META is
# refused before anything starts; a page byte altered after META, or bytes
# written after META over what it authenticated, stop the restart that had
# begun, and the program never runs again (its output file gets no new
# line).
"$ZAP" run --pod src -- "$B/tests/progs/bigmem" 8 > "$T/big.out" 2> "$T/big.err" &
SRC=$!
wait_for "[ \$(wc -l < $T/big.out) -ge 2 ]" 20 || fail "bigmem did not start: $(cat "$T/big.err")"
"$ZAP" checkpoint --kill src > /dev/null 2>&1 || fail "checkpoint of bigmem failed"
wait $SRC
IMG=$ZAP_HOME/pods/src/image
lines=$(wc -l < "$T/big.out")
for mode in split-meta:"digest at META" split-flip:"end-to-end digest\|restart failed\|checksum" \
	split-over:"outside the page data"; do
	m=${mode%%:*} want=${mode#*:}
	timeout 60 "$ZAPSEND" "$ADDR" "$T/key" "$m" "p-$m" "$IMG"/*.img > "$T/$m.out" 2>&1 ||
		fail "$m: zapd did not refuse the stream: $(cat "$T/$m.out")"
	grep -q "$want" "$T/$m.out" || fail "$m: the refusal does not say '$want': $(cat "$T/$m.out")"
	note "$m: $(cat "$T/$m.out")"
done
grep -q "p-split-meta.*while the pages arrive" "$T/zapd.err" && fail "split-meta: a restart began"
grep -q "p-split-flip.*while the pages arrive" "$T/zapd.err" ||
	fail "split-flip: zapd did not begin the restart before the pages were in: $(cat "$T/zapd.err")"
wait_for "! pgrep -f 'pod p-split-(flip|over)' > /dev/null" 10 ||
	fail "split-flip/over: the restart still runs: $(pgrep -af 'p-split-(flip|over)')"
sleep 0.3
[ "$(wc -l < "$T/big.out")" = "$lines" ] || fail "split-flip: the damaged program ran: $(tail -2 "$T/big.out")"
[ -z "$(ls "$ZAP_HOME/incoming" 2> /dev/null)" ] || fail "incoming/ keeps: $(ls "$ZAP_HOME/incoming")"

# not the protocol at all
exec 3<> "/dev/tcp/127.0.0.1/$PORT" || fail "cannot connect to zapd"
printf 'GET / HTTP/1.0\r\n\r\n' >&3
reply=$(timeout 5 cat <&3 | tr -d '\0')
exec 3>&-
echo "$reply" | grep -q "not the zap protocol" || fail "no refusal of a non-zap client: $reply"
grep -q "127.0.0.1:[0-9]*: refused: not the zap protocol" "$T/zapd.err" || fail "zapd did not log the refusal"
kill -0 $ZAPD || fail "zapd died"
kill $ZAPD
wait $ZAPD
rc=$?
[ $rc = 0 ] || fail "zapd exited $rc after SIGTERM"
exit 0
