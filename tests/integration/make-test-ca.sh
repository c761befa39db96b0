#!/usr/bin/env bash
# Makes a throw-away test CA and two server certificates it signed (for 127.0.0.1 and
# localhost) in <dir>: ca.crt, server.{crt,key} (CN rrpcd-test-1) and server2.{crt,key}
# (CN rrpcd-test-2, for the reload test). The TLS tests trust ca.crt through
# NODE_EXTRA_CA_CERTS; nothing here is ever used outside the tests.
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
[[ -s server2.crt ]] && exit 0
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=rrpcd test CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
for n in 1 2; do
    name=$([[ $n == 1 ]] && echo server || echo server2)
    openssl req -newkey rsa:2048 -nodes -subj "/CN=rrpcd-test-$n" -keyout "$name.key" -out "$name.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > ext.cnf
    openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile ext.cnf -out "$name.crt" 2>/dev/null
done
rm -f ./*.csr ext.cnf
