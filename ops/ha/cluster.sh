#!/usr/bin/env bash
# The customs PostgreSQL cluster on one machine: etcd (three members), two PostgreSQL nodes under
# Patroni (one primary, one synchronous standby, strict) and HAProxy routing to whichever is
# primary. For the failover
# drill (crates/customs/tests/it/failover.rs) and for trying high availability by hand; a real
# deployment runs the same configuration (patroni.yml, etcd.yml, haproxy.cfg) on three machines.
#
#   ops/ha/cluster.sh start          starts everything in a new folder under ${TMPDIR:-/tmp}, on
#                                    free ports; prints KEY=VALUE lines (also kept in
#                                    FOLDER/cluster.env), HA_DATABASE_URL among them
#   ops/ha/cluster.sh status FOLDER  the cluster as Patroni sees it (JSON)
#   ops/ha/cluster.sh leader FOLDER  the leader's name (node1 or node2)
#   ops/ha/cluster.sh kill-primary FOLDER
#                                    kill -9 of the leader's Patroni and postmaster together (a
#                                    machine lost); prints the node's name
#   ops/ha/cluster.sh kill-standby FOLDER
#                                    kill -9 of the synchronous standby's Patroni and postmaster;
#                                    prints the node's name
#   ops/ha/cluster.sh start-node FOLDER NODE
#                                    starts NODE's Patroni again (a machine back): a former
#                                    primary rejoins as a standby (pg_rewind, or a new clone)
#   ops/ha/cluster.sh kill-etcd FOLDER
#                                    kill -9 of etcd's first member (two of three go on)
#   ops/ha/cluster.sh pause-standby FOLDER / resume-standby FOLDER
#                                    SIGSTOP / SIGCONT of the standby's PostgreSQL (a stalled
#                                    standby: commits wait for it)
#   ops/ha/cluster.sh stop FOLDER    stops every process it started, by id, and removes FOLDER
#
# Needs Debian's patroni, etcd-server, haproxy and postgresql. PostgreSQL refuses to run as root:
# as root, etcd and Patroni run as the postgres user (setpriv).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON=/usr/bin/python3
# How long starting may take before it gives up (initdb, then the standby's base backup).
START_DEADLINE_S=90

die() { echo "cluster.sh: $*" >&2; exit 1; }

# A start that fails stops what it started (its logs are kept in the folder).
cleanup_failed_start() {
  if [ -n "${DIR:-}" ] && [ -d "$DIR/pids" ]; then
    echo "cluster.sh: stopping what was started; logs kept in $DIR" >&2
    HA_KEEP=1 stop_started
  fi
}

need() {
  command -v "$1" >/dev/null || die "$1 is not installed (apt-get install $2)"
}

# N distinct free TCP ports on 127.0.0.1 (all held open together while chosen, so distinct).
free_ports() {
  "$PYTHON" - "$1" <<'PY'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
}

secret() { "$PYTHON" -c 'import secrets; print(secrets.token_hex(16))'; }

# GET http://127.0.0.1:PORT/PATH; prints the body; fails on a connection error. Any HTTP status
# counts as an answer (Patroni answers 503 on /primary of a standby).
http_get() {
  "$PYTHON" - "$1" "$2" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/{sys.argv[2]}", timeout=2) as r:
        print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.read().decode())
PY
}

# The member of Patroni's /cluster answer (read on stdin) in ROLE and state running or
# streaming, if any: prints its name.
member_in_role() {
  "$PYTHON" -c '
import json, sys
role = sys.argv[1]
for m in json.load(sys.stdin).get("members", []):
    if m.get("role") == role and m.get("state") in ("running", "streaming"):
        print(m["name"]); break
' "$1"
}

# Waits (up to START_DEADLINE_S from the start) until CHECK... succeeds; DESCRIPTION says for what.
wait_until() {
  local description="$1"; shift
  while ! "$@" >/dev/null 2>&1; do
    if [ $(($(date +%s) - STARTED)) -ge "$START_DEADLINE_S" ]; then
      die "gave up after ${START_DEADLINE_S}s waiting for $description (logs in $DIR)"
    fi
    sleep 0.5
  done
}

fill() { # TEMPLATE OUT KEY=VALUE...
  local template="$1" out="$2"; shift 2
  local script=()
  for pair in "$@"; do script+=(-e "s|@${pair%%=*}@|${pair#*=}|g"); done
  sed "${script[@]}" "$template" >"$out"
  if grep -q '@[A-Z_0-9]*@' "$out"; then die "$out: a value was not filled in"; fi
}

cluster_json() { http_get "$1" cluster; }
has_leader() { [ -n "$(cluster_json "$1" | member_in_role leader)" ]; }
has_sync_standby() { [ -n "$(cluster_json "$1" | member_in_role sync_standby)" ]; }
etcd_healthy() { http_get "$1" health | grep -q '"health":"true"'; }
psql_through_haproxy() {
  PGPASSWORD="$SUPERUSER_PASSWORD" PGCONNECT_TIMEOUT=2 PGSSLMODE=verify-full \
    PGSSLROOTCERT="$DIR/tls/ca.pem" psql -h 127.0.0.1 -p "$HAPROXY_PORT" \
    -U postgres -d postgres -v ON_ERROR_STOP=1 -Atc "$1"
}
writable_through_haproxy() { [ "$(psql_through_haproxy 'SELECT pg_is_in_recovery()')" = f ]; }

# The servers HAProxy routes to (checked UP), by name, from its stats socket.
haproxy_up() {
  "$PYTHON" - "$DIR/haproxy.sock" <<'PY'
import csv, io, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
print(" ".join(r["svname"] for r in rows
               if r["svname"] not in ("FRONTEND", "BACKEND") and r["status"].startswith("UP")))
PY
}
# HAProxy starts with every server UP until its checks say otherwise: wait until the leader is
# the only one.
haproxy_routes_to() { [ "$(haproxy_up)" = "$1" ]; }

start() {
  need patroni patroni; need etcd etcd-server; need haproxy haproxy; need psql postgresql-client
  need openssl openssl
  local pg_bin
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -x "$pg_bin/postgres" ] || die "no PostgreSQL server in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
  STARTED=$(date +%s)
  DIR="$(mktemp -d "${TMPDIR:-/tmp}/customs-ha.XXXXXX")"
  trap cleanup_failed_start EXIT
  chmod 0755 "$DIR"
  mkdir -p "$DIR/pids" "$DIR/etcd1" "$DIR/etcd2" "$DIR/etcd3" "$DIR/node1" "$DIR/node2"
  chmod 0700 "$DIR/etcd1" "$DIR/etcd2" "$DIR/etcd3" "$DIR/node1" "$DIR/node2"
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$DIR/etcd1" "$DIR/etcd2" "$DIR/etcd3" "$DIR/node1" "$DIR/node2"
  fi

  make_certificates "$DIR/tls"

  read -r ETCD_PORT_1 ETCD_PORT_2 ETCD_PORT_3 ETCD_PEER_1 ETCD_PEER_2 ETCD_PEER_3 \
    REST_1 REST_2 PG_1 PG_2 HAPROXY_PORT <<<"$(free_ports 11)"
  SUPERUSER_PASSWORD="$(secret)"
  local replication_password customs_password
  replication_password="$(secret)"
  customs_password="$(secret)"

  local initial_cluster="" etcd_hosts=""
  for m in 1 2 3; do
    local peer="ETCD_PEER_$m" client="ETCD_PORT_$m"
    initial_cluster="${initial_cluster:+$initial_cluster,}etcd$m=http://127.0.0.1:${!peer}"
    etcd_hosts="${etcd_hosts:+$etcd_hosts,}127.0.0.1:${!client}"
  done
  for m in 1 2 3; do
    local peer="ETCD_PEER_$m" client="ETCD_PORT_$m"
    fill "$HERE/etcd.yml" "$DIR/etcd$m/etcd.yml" NAME="etcd$m" ETCD_DIR="$DIR/etcd$m/data" \
      ETCD_PORT="${!client}" ETCD_PEER_PORT="${!peer}" INITIAL_CLUSTER="$initial_cluster"
  done
  for n in 1 2; do
    local rest pg
    rest="REST_$n"; pg="PG_$n"
    fill "$HERE/patroni.yml" "$DIR/node$n/patroni.yml" NAME="node$n" NODE_DIR="$DIR/node$n" \
      REST_PORT="${!rest}" PG_PORT="${!pg}" ETCD_HOSTS="$etcd_hosts" TLS_DIR="$DIR/tls" PG_BIN="$pg_bin" \
      SUPERUSER_PASSWORD="$SUPERUSER_PASSWORD" REPLICATION_USER=replicator \
      REPLICATION_PASSWORD="$replication_password"
    chmod 0600 "$DIR/node$n/patroni.yml"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DIR/node$n/patroni.yml"; fi
  done
  fill "$HERE/haproxy.cfg" "$DIR/haproxy.cfg" HAPROXY_PORT="$HAPROXY_PORT" \
    HAPROXY_SOCKET="$DIR/haproxy.sock" \
    PG_PORT_1="$PG_1" PG_PORT_2="$PG_2" REST_PORT_1="$REST_1" REST_PORT_2="$REST_2"

  # Each process in its own session (as_db_user_bg): a signal to the caller's process group,
  # such as a test harness's, does not reach it; `stop` ends them by their ids.
  # The three members together: each waits for a majority of its peers before it answers.
  for m in 1 2 3; do
    as_db_user_bg "$DIR/pids/etcd$m" "$DIR/etcd$m/etcd.log" etcd --config-file "$DIR/etcd$m/etcd.yml"
  done
  for m in 1 2 3; do
    local client="ETCD_PORT_$m"
    wait_until "etcd member $m on port ${!client}" etcd_healthy "${!client}"
  done

  as_db_user_bg "$DIR/pids/node1" "$DIR/node1/patroni.out" patroni "$DIR/node1/patroni.yml"
  wait_until "node1 to lead" has_leader "$REST_1"
  as_db_user_bg "$DIR/pids/node2" "$DIR/node2/patroni.out" patroni "$DIR/node2/patroni.yml"
  wait_until "node2 to stream as the synchronous standby" has_sync_standby "$REST_1"

  setsid haproxy -f "$DIR/haproxy.cfg" -db >"$DIR/haproxy.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/haproxy"
  wait_until "HAProxy to route to node1 only" haproxy_routes_to node1
  wait_until "HAProxy on port $HAPROXY_PORT to reach the primary" writable_through_haproxy

  # The application's own role and database (customs serve migrates the schema itself).
  psql_through_haproxy "CREATE ROLE customs LOGIN PASSWORD '$customs_password'" >/dev/null
  psql_through_haproxy "CREATE DATABASE customs OWNER customs" >/dev/null

  cat >"$DIR/cluster.env" <<ENV
HA_DIR=$DIR
HA_DATABASE_URL=postgres://customs:$customs_password@127.0.0.1:$HAPROXY_PORT/customs?sslmode=verify-full&sslrootcert=$DIR/tls/ca.pem
HA_SUPERUSER_URL=postgres://postgres:$SUPERUSER_PASSWORD@127.0.0.1:$HAPROXY_PORT/postgres?sslmode=verify-full&sslrootcert=$DIR/tls/ca.pem
HA_CA=$DIR/tls/ca.pem
HA_HAPROXY_PORT=$HAPROXY_PORT
HA_ETCD_PORTS=$ETCD_PORT_1,$ETCD_PORT_2,$ETCD_PORT_3
HA_NODE1_REST_PORT=$REST_1
HA_NODE2_REST_PORT=$REST_2
HA_NODE1_PG_PORT=$PG_1
HA_NODE2_PG_PORT=$PG_2
HA_STARTED_IN_S=$(($(date +%s) - STARTED))
ENV
  chmod 0600 "$DIR/cluster.env"
  trap - EXIT
  cat "$DIR/cluster.env"
}

# make_certificates FOLDER: a CA of the cluster's own and the nodes' certificate (for 127.0.0.1
# and localhost), its key readable by the postgres user only.
make_certificates() {
  local tls="$1"
  mkdir -p "$tls"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${ec[@]}" -days 30 -subj /CN=customs-ha-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req "${ec[@]}" -subj /CN=customs-db -keyout "$tls/server.key" \
    -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -CAcreateserial -days 30 -extfile "$tls/server.ext" -out "$tls/server.pem" 2>/dev/null
  rm -f "$tls/ca.key" "$tls/server.csr"
  chmod 0755 "$tls"; chmod 0644 "$tls/ca.pem" "$tls/server.pem"; chmod 0600 "$tls/server.key"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$tls/server.key"; fi
}

# as_db_user_bg PIDFILE LOG COMMAND...: starts COMMAND in the background in its own session as
# the database user; its process id goes to PIDFILE.
as_db_user_bg() {
  local pidfile="$1" log="$2"; shift 2
  if [ "$(id -u)" = 0 ]; then
    # HOME too: libpq (Patroni's connections, pg_rewind, pg_basebackup) reads client
    # certificates under ~/.postgresql, which root's home would refuse to the postgres user.
    setsid setpriv --reuid=postgres --regid=postgres --init-groups -- \
      env HOME="$(getent passwd postgres | cut -d: -f6)" "$@" >"$log" 2>&1 </dev/null &
  else
    setsid "$@" >"$log" 2>&1 </dev/null &
  fi
  echo $! >"$pidfile"
}

load() {
  DIR="${1:?the cluster folder (HA_DIR) is required}"
  [ -f "$DIR/cluster.env" ] || die "$DIR holds no cluster (no cluster.env)"
  # KEY=VALUE lines, read rather than sourced: the URLs hold '&'.
  local key value
  while IFS='=' read -r key value; do
    [[ "$key" =~ ^HA_[A-Z0-9_]+$ ]] && printf -v "$key" '%s' "$value"
  done <"$DIR/cluster.env"
}

leader() {
  load "$1"
  local name=""
  for rest in "$HA_NODE1_REST_PORT" "$HA_NODE2_REST_PORT"; do
    name="$(cluster_json "$rest" 2>/dev/null | member_in_role leader)" || true
    [ -n "$name" ] && break
  done
  [ -n "$name" ] || die "no leader"
  echo "$name"
}

# The postmaster's process id of NODE, if it runs (postmaster.pid's first line, checked
# against /proc so a reused id is never taken for it).
postmaster_pid() {
  local file="$DIR/$1/data/postmaster.pid" pid
  [ -f "$file" ] || return 1
  pid="$(head -1 "$file")"
  [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "postgres.*$DIR/$1/data" \
    && echo "$pid"
}

# True when PID is alive and its command line mentions WORD (a reused id is not ours).
ours() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -q -- "$2"; }

kill_primary() {
  load "$1"
  local node patroni postmaster
  node="$(leader "$DIR")"
  patroni="$(cat "$DIR/pids/$node")"
  postmaster="$(postmaster_pid "$node")" || die "$node leads but its postmaster is not running"
  ours "$patroni" patroni || die "$node's Patroni ($patroni) is not running"
  kill -9 "$patroni" "$postmaster"
  echo "$node"
}

# kill -9 of the standby's Patroni and postmaster (its machine lost); prints the node's name.
kill_standby() {
  load "$1"
  local leader node patroni postmaster
  leader="$(leader "$DIR")"
  node=node1; [ "$leader" = node1 ] && node=node2
  patroni="$(cat "$DIR/pids/$node")"
  ours "$patroni" patroni || die "$node's Patroni ($patroni) is not running"
  postmaster="$(postmaster_pid "$node")" || die "$node's postmaster is not running"
  kill -9 "$patroni" "$postmaster"
  echo "$node"
}

# Starts NODE's Patroni again (the node's machine is back), which starts its PostgreSQL: as a
# standby of the current leader, after pg_rewind if it was the primary.
start_node() {
  load "$1"
  local node="${2:?the node (node1 or node2) is required}" pid
  [ -f "$DIR/$node/patroni.yml" ] || die "no node $node in $DIR"
  pid="$(cat "$DIR/pids/$node" 2>/dev/null)" || true
  if [ -n "$pid" ] && ours "$pid" patroni; then die "$node's Patroni ($pid) is running"; fi
  if postmaster_pid "$node" >/dev/null; then die "$node's postmaster is still running"; fi
  as_db_user_bg "$DIR/pids/$node" "$DIR/$node/patroni.out" patroni "$DIR/$node/patroni.yml"
  echo "$node"
}

# kill -9 of etcd's first member: the other two are a majority and go on.
kill_etcd() {
  load "$1"
  local pid
  pid="$(cat "$DIR/pids/etcd1")"
  ours "$pid" etcd || die "etcd member 1 ($pid) is not running"
  kill -9 "$pid"
  echo etcd1
}

# The standby's PostgreSQL (postmaster and its children) stopped with SIGSTOP, or resumed with
# SIGCONT: a standby that takes no WAL for a while, as when its disk or network stalls.
signal_standby() {
  load "$1"
  local leader node
  leader="$(leader "$DIR")"
  node=node1; [ "$leader" = node1 ] && node=node2
  signal_postgres "$node" "$2" || die "$node's postmaster is not running"
  echo "$node"
}

# Sends SIGNAL to NODE's postmaster and its children; fails if the postmaster is not running.
signal_postgres() {
  local postmaster pid ppid stat
  postmaster="$(postmaster_pid "$1")" || return 1
  local pids=("$postmaster")
  for stat in /proc/[0-9]*/stat; do
    # Field 4 of /proc/PID/stat is the parent's id (the name in field 2 has no spaces here).
    read -r pid _ _ ppid _ 2>/dev/null <"$stat" || continue
    [ "$ppid" = "$postmaster" ] && pids+=("$pid")
  done
  kill "-$2" "${pids[@]}" 2>/dev/null || true
}

stop() {
  load "$1"
  stop_started
}

# Stops the processes of the cluster in DIR, each by its id; removes DIR unless HA_KEEP is set.
stop_started() {
  local pid
  # A standby left paused (SIGSTOP) would hold every signal but SIGKILL: resume it first.
  for node in node1 node2; do signal_postgres "$node" CONT || true; done
  # Patroni first (it stops its PostgreSQL), then any postmaster left (its Patroni killed).
  for node in node1 node2; do
    pid="$(cat "$DIR/pids/$node" 2>/dev/null)" || continue
    ours "$pid" patroni && kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 40); do
    local alive=0
    for node in node1 node2; do
      pid="$(cat "$DIR/pids/$node" 2>/dev/null)" || continue
      ours "$pid" patroni && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.25
  done
  for node in node1 node2; do
    pid="$(cat "$DIR/pids/$node" 2>/dev/null)" || continue
    ours "$pid" patroni && kill -KILL "$pid" 2>/dev/null || true
    # Immediate shutdown (SIGQUIT) of a postmaster whose Patroni is gone.
    pid="$(postmaster_pid "$node")" && kill -QUIT "$pid" 2>/dev/null || true
  done
  for name in haproxy etcd1 etcd2 etcd3; do
    pid="$(cat "$DIR/pids/$name" 2>/dev/null)" || continue
    ours "$pid" "${name%[0-9]}" && kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 40); do
    local alive=0
    for node in node1 node2; do postmaster_pid "$node" >/dev/null && alive=1; done
    for name in haproxy etcd1 etcd2 etcd3; do
      pid="$(cat "$DIR/pids/$name" 2>/dev/null)" && ours "$pid" "${name%[0-9]}" && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.25
  done
  if [ -z "${HA_KEEP:-}" ]; then rm -rf "$DIR"; fi
}

case "${1:-}" in
  start) start ;;
  status) load "${2:-}"; cluster_json "$HA_NODE1_REST_PORT" 2>/dev/null || cluster_json "$HA_NODE2_REST_PORT" ;;
  leader) leader "${2:-}" ;;
  kill-primary) kill_primary "${2:-}" ;;
  kill-standby) kill_standby "${2:-}" ;;
  start-node) start_node "${2:-}" "${3:-}" ;;
  kill-etcd) kill_etcd "${2:-}" ;;
  pause-standby) signal_standby "${2:-}" STOP ;;
  resume-standby) signal_standby "${2:-}" CONT ;;
  stop) stop "${2:-}" ;;
  *) die "usage: cluster.sh start | status FOLDER | leader FOLDER | kill-primary FOLDER |\
 kill-standby FOLDER | start-node FOLDER NODE | kill-etcd FOLDER | pause-standby FOLDER | resume-standby FOLDER | stop FOLDER" ;;
esac
