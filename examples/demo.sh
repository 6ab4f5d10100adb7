#!/bin/sh
# The demo: run a counter under zap, checkpoint it, stop it, restart it from
# its image, and show that it went on where it stopped.
set -e
cd "$(dirname "$0")/.."
ZAP=build/bin/zap
export ZAP_HOME=$(mktemp -d /tmp/zap-demo.XXXXXX)
trap 'rm -rf "$ZAP_HOME"' EXIT
echo "== zap run --pod demo -- build/examples/counter 20 100"
$ZAP run --pod demo -- build/examples/counter 20 100 | sed 's/^/   program: /' &
sleep 1
echo "== zap ps"
$ZAP ps
echo "== zap checkpoint --kill demo"
$ZAP checkpoint --kill demo
wait
echo "== zap inspect (first lines)"
$ZAP inspect "$ZAP_HOME/pods/demo/image" | head -8
echo "== zap restart: the counter goes on from where it stopped"
$ZAP restart "$ZAP_HOME/pods/demo/image" | sed 's/^/   restarted: /'
echo "== done"
