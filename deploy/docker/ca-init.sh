#!/bin/sh
# The compose file's one-shot "ca" service: make the district CA once in the
# ca volume (which no node mounts), then issue each node's certificate with
# --out into that node's own TLS volume, owned by the node's user. Run again,
# it issues only what is missing. Arguments: NAME:ORG:ROLE ...
set -eu
district=${SANZI_CA_DISTRICT:?set SANZI_CA_DISTRICT to the 6-digit district code}
if [ ! -f /ca/ca.crt ]; then
	sanzi ca init --district "$district" --dir /ca
fi
for spec in "$@"; do
	name=${spec%%:*}; rest=${spec#*:}; org=${rest%%:*}; role=${rest#*:}
	if [ -f "/tls/$name/$name.crt" ]; then
		echo "$name: certificate present"
		continue
	fi
	sanzi ca issue --dir /ca --org "$org" --role "$role" --name "$name" --hosts "$name,localhost,127.0.0.1" --out "/tls/$name"
	chown -R 10001:10001 "/tls/$name"
done
