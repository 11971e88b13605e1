#!/bin/sh
# topo guest agent (busybox ash). Serves the host over the virtio-serial port "org.topo.agent".
#
# Line protocol, one request at a time, every line ends with "\n", fields separated by one space,
# free text base64-encoded (standard alphabet, no line breaks), "-" stands for an empty base64 field:
#   host  -> guest  P <id>                              ping
#   guest -> host   O <id>                              pong
#   host  -> guest  X <id> <timeout_ms> <b64 command>   run `sh <command file>`; timeout_ms 0 = none
#   guest -> host   R <id> <exit_code> <timed_out> <b64 stdout> <b64 stderr>
#   guest -> host   E <id> <b64 message>                malformed or unknown request
# The command runs in its own session with stdin from /dev/null and its output in temp files (binary
# safe). When the timeout expires the whole process group is killed with SIGKILL; the response then
# has timed_out=1 and exit_code 137 (128 + SIGKILL). A command killed by a signal N gives 128 + N.
# <id> is chosen by the host ([0-9A-Za-z_-]) and echoed back. The client is src/guest/agent-client.ts.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
NAME=org.topo.agent
STATE=/run/topo/agent.state
W=/run/topo/agent

port=
t=0
# No virtio-serial device at all: nothing to wait for.
[ -n "$(ls /sys/bus/virtio/drivers/virtio_console 2>/dev/null | grep '^virtio')" ] || t=250
# Port names arrive from the host over virtio-serial's control queue, shortly after the module loads.
while [ -z "$port" ] && [ "$t" -lt 250 ]; do
  for p in /sys/class/virtio-ports/*; do
    [ -r "$p/name" ] || continue
    read -r n < "$p/name" 2>/dev/null
    if [ "$n" = "$NAME" ] && [ -e "/dev/${p##*/}" ]; then port=/dev/${p##*/}; fi
  done
  [ -n "$port" ] && break
  usleep 20000
  t=$((t + 1))
done
if [ -z "$port" ]; then
  echo absent > "$STATE"
  exit 0
fi

mkdir -p "$W"
exec 3<> "$port"
echo ready > "$STATE"

send_b64() {
  if [ -s "$1" ]; then base64 -w0 "$1" >&3; else printf -- - >&3; fi
}

run() {
  id=$1
  ms=$2
  cmd=$W/cmd
  out=$W/out
  err=$W/err
  flag=$W/timedout
  rm -f "$flag"
  if [ "$3" = - ]; then
    : > "$cmd"
  elif ! printf '%s' "$3" | base64 -d > "$cmd" 2>/dev/null; then
    printf 'E %s %s\n' "$id" "$(printf 'bad base64 command' | base64 -w0)" >&3
    return
  fi
  # Not a process group leader (no job control here), so setsid neither forks: $! is the session id.
  setsid sh "$cmd" </dev/null >"$out" 2>"$err" &
  pid=$!
  watcher=
  if [ "$ms" -gt 0 ]; then
    setsid sh -c 'sleep "$1"; : > "$2"; kill -KILL -"$3"' watcher "$((ms / 1000)).$(printf %03d $((ms % 1000)))" "$flag" "$pid" </dev/null >/dev/null 2>&1 &
    watcher=$!
  fi
  wait "$pid"
  rc=$?
  [ -n "$watcher" ] && kill -KILL -"$watcher" 2>/dev/null
  [ -n "$watcher" ] && wait "$watcher" 2>/dev/null
  to=0
  [ -e "$flag" ] && to=1
  printf 'R %s %s %s ' "$id" "$rc" "$to" >&3
  send_b64 "$out"
  printf ' ' >&3
  send_b64 "$err"
  printf '\n' >&3
  rm -f "$cmd" "$out" "$err" "$flag"
}

while :; do
  if ! read -r kind id a b <&3; then
    # EOF: the host side is not connected right now; poll instead of spinning.
    usleep 200000
    continue
  fi
  case $id in ''|*[!0-9A-Za-z_-]*) continue ;; esac
  case $kind in
    P) printf 'O %s\n' "$id" >&3 ;;
    X)
      case $a in ''|*[!0-9]*) a=0 ;; esac
      run "$id" "$a" "$b"
      ;;
    *) printf 'E %s %s\n' "$id" "$(printf 'unknown request' | base64 -w0)" >&3 ;;
  esac
done
