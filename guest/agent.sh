#!/bin/sh
# topo guest agent (busybox ash). Serves the host over the virtio-serial port "org.topo.agent".
#
# Line protocol, "\n"-terminated lines, fields separated by one space, free text base64-encoded
# (standard alphabet, no line breaks), "-" stands for an empty base64 field. Requests run concurrently;
# each reply is written whole (one line) and replies come in any order:
#   host  -> guest  P <id>                              ping
#   guest -> host   O <id>                              pong
#   host  -> guest  X <id> <timeout_ms> <b64 command> [<b64 stdin>]
#                                                       run `sh <command file>`; timeout_ms 0 = none
#   guest -> host   R <id> <exit_code> <timed_out> <b64 stdout> <b64 stderr>
#   host  -> guest  K <id>                              kill request <id> (it then replies R, exit 137)
#   guest -> host   E <id> <b64 message>                malformed, unknown or duplicate request
# The command runs in its own session, stdin from the decoded <b64 stdin> (absent or "-": /dev/null),
# output in temp files (binary safe). When the timeout expires (or on K) the whole process group is
# killed with SIGKILL; the response then has exit_code 137 (128 + SIGKILL) and, for the timeout only,
# timed_out=1. A command killed by a signal N gives 128 + N. <id> is chosen by the host
# ([0-9A-Za-z_-], unique among running requests) and echoed back. The client is src/guest/agent-client.ts.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
NAME=org.topo.agent
STATE=/run/topo/agent.state
W=/run/topo/agent
FIFO=/run/topo/agent.fifo

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
# Listening from here on: the host's requests wait in the port until the loop below reads them.
echo ready > "$STATE"
rm -f "$FIFO"
mkfifo "$FIFO"

# The only writer to the port, so concurrent replies never interleave. Replies reach it through a FIFO,
# one line each (short writes to a FIFO are atomic): a reply itself, or the path of a file holding one.
writer() {
  # Read-write: the FIFO never reports EOF when the last worker closes it.
  exec 4<> "$FIFO"
  while read -r r <&4; do
    case $r in
      /*) cat "$r" >&3; rm -rf "${r%/*}" ;;
      *) printf '%s\n' "$r" >&3 ;;
    esac
  done
}
writer </dev/null &
exec 5> "$FIFO"

refuse() {
  printf 'E %s %s\n' "$1" "$(printf '%s' "$2" | base64 -w0)" >&5
}

send_b64() {
  if [ -s "$1" ]; then base64 -w0 "$1"; else printf -- -; fi
}

# ash's `read` costs two syscalls per byte: awk splits the request lines instead, stores the base64
# fields in files (<stage>.cmd, <stage>.in) and hands the loop a short line:
#   X <id> <timeout_ms> <stage> <has stdin 0|1>   or   <kind> <id>
split() {
  k=0
  while :; do
    k=$((k + 1))
    awk -v S="$W/.$k." '
      $2 !~ /^[0-9A-Za-z_-]+$/ { next }
      $1 == "X" {
        s = S NR
        printf "%s", ($4 == "-" ? "" : $4) > (s ".cmd"); close(s ".cmd")
        hs = NF >= 5 && $5 != "-"
        if (hs) { printf "%s", $5 > (s ".in"); close(s ".in") }
        print "X", $2, $3, s, hs; fflush(); next
      }
      { print $1, $2; fflush() }' <&3
    # EOF: the host side is not connected right now; poll instead of spinning.
    usleep 200000
  done
}

# One X request, detached from the main loop: decode, run, assemble the reply in a file, hand it over.
work() {
  id=$1 ms=$2 d=$W/$1 stage=$3
  exec 3>&-
  if ! base64 -d < "$stage.cmd" > "$d/cmd" 2>/dev/null; then
    refuse "$id" 'bad base64 command'
    rm -rf "$d" "$stage".*
    return
  fi
  in=/dev/null
  if [ "$4" = 1 ]; then
    in=$d/in
    if ! base64 -d < "$stage.in" > "$in" 2>/dev/null; then
      refuse "$id" 'bad base64 stdin'
      rm -rf "$d" "$stage".*
      return
    fi
  fi
  rm -f "$stage".*
  # Not a process group leader (no job control here), so setsid neither forks: $! is the session id.
  # Until the child has called setsid() that session does not exist yet, so every kill below names the
  # process as well as its session: "kill -KILL -pid" alone missed a watcher the command had outrun.
  setsid sh "$d/cmd" <"$in" >"$d/out" 2>"$d/err" 5>&- &
  pid=$!
  echo "$pid" > "$d/pid"
  # A K that came before the pid file existed left this mark.
  [ -e "$d/kill" ] && kill -KILL "$pid" -"$pid" 2>/dev/null
  watcher=
  if [ "$ms" -gt 0 ]; then
    # The deadline is kept in the watcher, not in its sleep: a command that kills every `sleep` (killall
    # sleep) only makes it sleep again for what is left, never makes it fire early.
    setsid sh -c 'now() { read -r u _ < /proc/uptime; c=$((${u%.*} * 100 + 1${u#*.} - 100)); }
      now; end=$((c + $1))
      while now; [ "$c" -lt "$end" ]; do sleep "$(((end - c) / 100)).$(printf %02d $(((end - c) % 100)))"; done
      : > "$2"; kill -KILL "$3" -"$3"' watcher "$(((ms + 9) / 10))" "$d/timedout" "$pid" </dev/null >/dev/null 2>&1 5>&- &
    watcher=$!
  fi
  wait "$pid"
  rc=$?
  rm -f "$d/pid"
  [ -n "$watcher" ] && kill -KILL "$watcher" -"$watcher" 2>/dev/null
  [ -n "$watcher" ] && wait "$watcher" 2>/dev/null
  to=0
  [ -e "$d/timedout" ] && to=1
  # The host takes 64 MiB of output at most (it reports E_OUTPUT_LIMIT): cut each file 1 KiB past that, so the
  # reply fits in /run; a reply that still does not fit is refused rather than sent cut short.
  for f in "$d/out" "$d/err"; do [ "$(stat -c %s "$f")" -gt 67109888 ] && truncate -s 67109888 "$f"; done
  if ! { printf 'R %s %s %s ' "$id" "$rc" "$to"; send_b64 "$d/out"; printf ' '; send_b64 "$d/err"; printf '\n'; } > "$d/reply"; then
    rm -rf "$d"
    refuse "$id" 'no room for the reply in the guest (/run)'
    return
  fi
  rm -f "$d/cmd" "$d/in" "$d/out" "$d/err"
  printf '%s\n' "$d/reply" >&5
}

split | while read -r kind id a b c; do
  case $kind in
    P) printf 'O %s\n' "$id" >&5 ;;
    X)
      case $a in ''|*[!0-9]*) a=0 ;; esac
      # The request's directory doubles as the "running" mark: mkdir is atomic.
      if mkdir "$W/$id" 2>/dev/null; then
        # Double fork: the worker is re-parented to init (which reaps it), the loop never waits for it.
        (work "$id" "$a" "$b" "$c" &)
      else
        refuse "$id" 'duplicate request id'
        rm -f "$b".*
      fi
      ;;
    K)
      d=$W/$id
      if [ -d "$d" ] && : > "$d/kill" 2>/dev/null && [ -s "$d/pid" ] && read -r p < "$d/pid"; then
        kill -KILL "$p" -"$p" 2>/dev/null
      fi
      ;;
    *) refuse "$id" 'unknown request' ;;
  esac
done
