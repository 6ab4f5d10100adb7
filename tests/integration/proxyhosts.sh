# Hosts for the zap-proxy tests (sourced after lib.sh; uses hosts.sh):
#   proxy_hosts      hosts a and b with a zapd each, host c with zap-proxy
#                    on $C:$CP (its log proxy.err, --hold 60, verbose)
#   (resumed, in lib.sh: how many tunnels the proxy has resumed so far)
. "$TOP/tests/integration/hosts.sh"
CP=7300

proxy_hosts() {
	hosts_init
	host_add a 1
	host_add b 2
	host_add c 3
	host_zapd a
	host_zapd b
	C=$(host_addr c)
	( on c "$B/bin/zap-proxy" --listen "$C:$CP" --key "$HOSTS_KEY" --hold 60 -v ) 2> proxy.err &
	wait_for "grep -q listening proxy.err" 10 || fail "zap-proxy did not start on c: $(cat proxy.err)"
}

