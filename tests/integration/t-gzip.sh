# gzip compressing a file given on stdin, checkpointed mid-stream: the
# restarted gzip reopens its input at the offset it had reached and the two
# halves of the compressed stream joined equal an uninterrupted run's, and
# decompress to the input.
. "$(dirname "$0")/lib.sh"
command -v gzip > /dev/null || skip "gzip not installed"
# 30 MB of text that compresses a little, made the same way each time
python3 -c '
import hashlib, sys
h = hashlib.sha256(b"zap")
out = sys.stdout.buffer
for i in range(30 * 1024 * 1024 // 64):
    h = hashlib.sha256(h.digest())
    out.write(h.hexdigest().encode())' > in.txt
gzip -n -6 -c < in.txt > gz.ref
( "$ZAP" run --pod gz -- gzip -n -6 -c < in.txt | cat > gz.1 ) 2> gz.run.err &
wait_for "[ -s $ZAP_HOME/pods/gz/pid ] && [ \$(stat -c %s $T/gz.1) -gt 1000000 ]" 60 ||
	fail "gzip made no progress"
checkpoint_kill gz
wait
( set -o pipefail; timeout 120 "$ZAP" restart "$ZAP_HOME/pods/gz/image" | cat > gz.2 ) 2> gz.2.err ||
	fail "restart failed: $(cat gz.2.err)"
cat gz.1 gz.2 > gz.joined
same gz.joined gz.ref
gzip -dc < gz.joined | cmp -s - in.txt || fail "the joined stream does not decompress to the input"
note "gzip: $(stat -c %s gz.1) bytes before, $(stat -c %s gz.2) after the restart"
