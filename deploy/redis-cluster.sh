#!/usr/bin/env bash
# A local 6-node Redis Cluster (3 masters + 3 replicas) on 127.0.0.1 for running Herald by hand.
#
#   deploy/redis-cluster.sh start  [DIR] [FIRST_PORT]   default DIR ./data/redis-cluster, ports 7000..7005
#   deploy/redis-cluster.sh stop   [DIR]
#   deploy/redis-cluster.sh status [DIR]
#
# start runs 6 daemonized redis-server nodes, one directory each (DIR/PORT, log in DIR/PORT/redis.log),
# creates the cluster (or lets the nodes rejoin if DIR already holds one), waits for cluster_state:ok
# on every node and prints the lines to put in .env. Nothing is persisted (--save "" --appendonly no):
# a restarted cluster comes back empty. Cluster bus ports are PORT+10000. Needs redis-server and
# redis-cli (apt-get install redis-server). Environment: REDIS_CLUSTER_NODE_TIMEOUT_MS (default 5000),
# REDIS_CLUSTER_WAIT_S (default 30).
set -euo pipefail

readonly HOST=127.0.0.1
readonly NODE_COUNT=6
readonly DEFAULT_DIR=./data/redis-cluster
readonly DEFAULT_FIRST_PORT=7000
readonly NODE_TIMEOUT_MS=${REDIS_CLUSTER_NODE_TIMEOUT_MS:-5000}
readonly WAIT_S=${REDIS_CLUSTER_WAIT_S:-30}

die() {
    echo "redis-cluster: $*" >&2
    exit 1
}

usage() {
    sed -n '4,6p' "$0" | sed 's/^# *//' >&2
    exit 2
}

# read_ports DIR: fill the global array node_ports with the ports recorded by `start`.
read_ports() {
    local dir=$1
    [[ -f "$dir/ports" ]] || die "no cluster in $dir (no $dir/ports file); start one first"
    mapfile -t node_ports <"$dir/ports"
}

ping_node() {
    redis-cli -h "$HOST" -p "$1" ping >/dev/null 2>&1
}

cluster_state() {
    redis-cli -h "$HOST" -p "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p'
}

start_node() {
    local dir=$1 port=$2
    mkdir -p "$dir/$port"
    redis-server \
        --port "$port" \
        --bind "$HOST" \
        --daemonize yes \
        --dir "$dir/$port" \
        --pidfile "$dir/$port/redis.pid" \
        --logfile "$dir/$port/redis.log" \
        --cluster-enabled yes \
        --cluster-config-file nodes.conf \
        --cluster-node-timeout "$NODE_TIMEOUT_MS" \
        --save "" \
        --appendonly no
}

# wait_until WHAT CHECK PORT...: run CHECK PORT for every port until all succeed, or die after WAIT_S.
wait_until() {
    local what=$1 check=$2 deadline port
    local -a pending
    shift 2
    deadline=$((SECONDS + WAIT_S))
    while :; do
        pending=()
        for port in "$@"; do
            "$check" "$port" || pending+=("$port")
        done
        ((${#pending[@]} == 0)) && return 0
        ((SECONDS >= deadline)) && die "$what: still not on ${pending[*]} after ${WAIT_S}s (see DIR/PORT/redis.log)"
        sleep 0.2
    done
}

state_is_ok() {
    [[ "$(cluster_state "$1")" == ok ]]
}

print_env() {
    local -a node_ports=("$@")
    local i
    echo "REDIS_USE_CLUSTER=true"
    echo "REDIS_HOST=$HOST"
    echo "REDIS_PORT=${node_ports[0]}"
    for i in "${!node_ports[@]}"; do
        echo "REDIS_CLUSTER_HOST_$((i + 1))=$HOST"
        echo "REDIS_CLUSTER_PORT_$((i + 1))=${node_ports[i]}"
    done
}

cmd_start() {
    local dir=${1:-$DEFAULT_DIR} first_port=${2:-$DEFAULT_FIRST_PORT} port rejoin=1
    local -a node_ports=()
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        die "redis-server/redis-cli not found: apt-get install redis-server"
    fi
    if ! [[ "$first_port" =~ ^[0-9]+$ ]] || ((first_port < 1 || first_port + NODE_COUNT - 1 + 10000 > 65535)); then
        die "FIRST_PORT must be a number with FIRST_PORT+$((NODE_COUNT - 1))+10000 <= 65535, got '$first_port'"
    fi
    for ((port = first_port; port < first_port + NODE_COUNT; port++)); do
        node_ports+=("$port")
    done
    for port in "${node_ports[@]}"; do
        if ping_node "$port"; then
            die "something already answers on $HOST:$port (cluster already running? try: $0 status $dir)"
        fi
        [[ -f "$dir/$port/nodes.conf" ]] || rejoin=0
    done
    mkdir -p "$dir"
    printf '%s\n' "${node_ports[@]}" >"$dir/ports"
    for port in "${node_ports[@]}"; do
        start_node "$dir" "$port"
    done
    wait_until "nodes not answering" ping_node "${node_ports[@]}"
    if ((rejoin)); then
        echo "redis-cluster: $dir already holds a cluster: nodes rejoin it" >&2
    else
        local -a addresses=()
        for port in "${node_ports[@]}"; do
            addresses+=("$HOST:$port")
        done
        redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
            die "cluster create failed, see $dir/create.log"
    fi
    # cluster_state reads "fail" for a few seconds after create: wait for "ok" everywhere.
    wait_until "cluster_state not ok" state_is_ok "${node_ports[@]}"
    echo "redis-cluster: cluster up on $HOST:${node_ports[0]}..${node_ports[-1]}; put this in .env:" >&2
    print_env "${node_ports[@]}"
}

cmd_stop() {
    local dir=${1:-$DEFAULT_DIR} port pid
    local -a node_ports
    read_ports "$dir"
    for port in "${node_ports[@]}"; do
        if redis-cli -h "$HOST" -p "$port" shutdown nosave >/dev/null 2>&1 || ! ping_node "$port"; then
            echo "redis-cluster: stopped $port" >&2
        elif [[ -f "$dir/$port/redis.pid" ]]; then
            pid=$(<"$dir/$port/redis.pid")
            kill "$pid"
            echo "redis-cluster: sent SIGTERM to $port (pid $pid)" >&2
        else
            echo "redis-cluster: $port answers but refused SHUTDOWN and has no pid file" >&2
        fi
    done
}

cmd_status() {
    local dir=${1:-$DEFAULT_DIR} port
    local -a node_ports up=()
    read_ports "$dir"
    for port in "${node_ports[@]}"; do
        if ping_node "$port"; then
            up+=("$port")
            echo "$HOST:$port up, cluster_state:$(cluster_state "$port")"
        else
            echo "$HOST:$port DOWN"
        fi
    done
    if ((${#up[@]} == 0)); then
        return 1
    fi
    echo
    redis-cli -h "$HOST" -p "${up[0]}" cluster info | tr -d '\r' |
        grep -E '^cluster_(state|slots_assigned|slots_ok|slots_pfail|slots_fail|known_nodes|size|current_epoch):'
    echo
    # One line per node: address, flags, master id (first 8 chars, "-" for a master), link, slots.
    redis-cli -h "$HOST" -p "${up[0]}" cluster nodes | sort -k2 |
        awk '{ split($2, a, "@"); slots = ""; for (i = 9; i <= NF; i++) slots = slots " " $i
               printf "%-21s %-22s %-8s %-12s%s\n", a[1], $3, substr($4, 1, 8), $8, slots }'
}

main() {
    local command=${1:-}
    if (($# > 0)); then
        shift
    fi
    case "$command" in
    start) (($# <= 2)) || usage; cmd_start "$@" ;;
    stop) (($# <= 1)) || usage; cmd_stop "$@" ;;
    status) (($# <= 1)) || usage; cmd_status "$@" ;;
    *) usage ;;
    esac
}

main "$@"
