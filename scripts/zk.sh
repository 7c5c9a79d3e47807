#!/usr/bin/env bash
# A standalone ZooKeeper server on loopback for development and tests, from Debian's package.
#   scripts/zk.sh install            install Debian's zookeeper with apt-get when missing
#   scripts/zk.sh start [PORT] [DIR] start a server (default port 21810, dir .rollcall-tmp/zk-PORT);
#                                    prints the connection string when it answers 'ruok'
#   scripts/zk.sh stop [PORT] [DIR]  stop it
set -euo pipefail
cmd=${1:-start}
port=${2:-21810}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${3:-$root/.rollcall-tmp/zk-$port}

install() {
  if [ -d /usr/share/zookeeper ] && ls /usr/share/java/zookeeper*.jar >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" != 0 ]; then echo "zk.sh: Debian's zookeeper package is missing; run as root or: sudo apt-get install zookeeper" >&2; exit 1; fi
  echo "zk.sh: installing Debian's zookeeper package" >&2
  (apt-get install -y -q zookeeper >/dev/null 2>&1) || (apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q zookeeper >/dev/null)
}

ruok() {
  # bash's /dev/tcp: no nc needed.
  { exec 3<>/dev/tcp/127.0.0.1/"$port"; } 2>/dev/null || return 1
  printf 'ruok' >&3
  local answer
  answer=$(timeout 2 cat <&3 || true)
  exec 3>&-
  [ "$answer" = imok ]
}

case "$cmd" in
  install) install ;;
  start)
    install
    if ruok; then
      # Reuse only our own server (same data directory); another one on this port is not ours to use.
      if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then echo "127.0.0.1:$port"; exit 0; fi
      echo "zk.sh: port $port already serves another ZooKeeper (not started from $dir)" >&2
      exit 1
    fi
    mkdir -p "$dir/data"
    cat > "$dir/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
minSessionTimeout=1000
maxSessionTimeout=30000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
# One session per node and every in-process node on 127.0.0.1: the default of 60 connections per
# client address would refuse a 60-worker cluster's 61st node.
maxClientCnxns=0
CFG
    cp=$(find /usr/share/zookeeper /usr/share/java -name '*.jar' 2>/dev/null | tr '\n' ':')
    log4j=/etc/zookeeper/conf
    nohup java -Xmx256m -cp "$log4j:$cp" -Dzookeeper.log.dir="$dir" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" > "$dir/server.log" 2>&1 &
    echo $! > "$dir/pid"
    for _ in $(seq 1 100); do
      if ruok; then echo "127.0.0.1:$port"; exit 0; fi
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then echo "zk.sh: server exited; see $dir/server.log" >&2; tail -5 "$dir/server.log" >&2; exit 1; fi
      sleep 0.2
    done
    echo "zk.sh: server did not answer within 20 s; see $dir/server.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/pid" ]; then kill "$(cat "$dir/pid")" 2>/dev/null || true; rm -f "$dir/pid"; fi
    ;;
  *) echo "usage: zk.sh install|start|stop [PORT] [DIR]" >&2; exit 2 ;;
esac
