#!/bin/sh
# tests/examples/bootstrap.sh BIN — examples.bootstrap: the example's bootstrap node prints its address
# line, `--join` through it lists that node, and SIGTERM ends the node with exit 0.
set -u
bin=$1
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
MK_DHT=off "$bin" -n examples-bootstrap -s example-boot-1 -l 127.0.0.1:0 > "$dir/addr" 2> "$dir/err" &
pid=$!
i=0
while [ ! -s "$dir/addr" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
addr=$(head -n1 "$dir/addr")
[ -n "$addr" ] || { echo "no address line"; cat "$dir/err"; exit 1; }
id=$(printf '%s' "$addr" | cut -c1-10)
out=$(MK_DHT=off "$bin" -n examples-bootstrap --join "$addr" -l 127.0.0.1:0) || { echo "--join failed"; exit 1; }
echo "$out"
echo "$out" | grep -q "  $id  tags: bootstrap" || { echo "--join did not list $id"; exit 1; }
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 0 ] || { echo "the node exited $rc after SIGTERM"; exit 1; }
echo "examples.bootstrap OK"
