#!/usr/bin/env bash
# A throw-away OpenLDAP for trying nestjs-hr's LDAP sign-in (DEMO ONLY): Debian's slapd
# (apt-get install slapd ldap-utils) on 127.0.0.1:${LDAP_PORT:-3389}, its config and data in a
# temporary folder, seeded from staff.ldif, in the foreground (Ctrl-C stops it and removes it all).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port="${LDAP_PORT:-3389}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/data"
cat >"$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile $dir/slapd.pid
database mdb
maxsize 16777216
suffix "dc=bulwark,dc=test"
rootdn "cn=admin,dc=bulwark,dc=test"
rootpw admin-secret
directory $dir/data
overlay memberof
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="cn=bulwark-reader,ou=services,dc=bulwark,dc=test" read by self read by * none
CONF
slapadd -f "$dir/slapd.conf" -l "$here/staff.ldif"
echo "slapd on ldap://127.0.0.1:$port (Ctrl-C to stop); start the app with:"
echo "  LDAP_URL=ldap://127.0.0.1:$port npm start -w @bulwark-examples/nestjs-hr"
slapd -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$port/" -d 0
