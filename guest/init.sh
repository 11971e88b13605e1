#!/bin/sh
# topo default guest: /init (PID 1) of the initramfs, run by busybox ash.
# Mounts the pseudo file systems, loads the virtio modules, applies the node's configuration from
# fw_cfg "opt/topo/config" (format documented in src/guest/config.ts), runs the `run:` commands,
# starts the agent, links /dev/virtio-ports/<name> for virtio-serial ports, prints exactly one line
# "topo-guest: ready <nonce>" on the console, then keeps a root shell on it. Never exits.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=linux
T=/run/topo

log() { echo "topo-guest: $*"; }
# What udev does for virtio-serial ports: /dev/virtio-ports/<name> -> ../vportNpM. 1 = no name yet.
link_port() {
  [ -r "$1/name" ] && read -r n < "$1/name" || return 1
  case $n in ''|.*|*[!A-Za-z0-9._-]*) return 0 ;; esac
  [ -d /dev/virtio-ports ] || mkdir -p /dev/virtio-ports
  ln -sfn "../${1##*/}" "/dev/virtio-ports/$n"
}
# `uevent` (started below) runs `/init --uevent` for each kernel event: ports named late get linked too.
if [ "$1" = --uevent ]; then
  [ "$SUBSYSTEM" = virtio-ports ] && [ "$ACTION" != remove ] && link_port "/sys$DEVPATH"
  exit 0
fi
b64() { printf '%s' "$1" | base64 -d; }
# `topo.trace` on the kernel command line prints the uptime at each step (boot-time tuning).
trace() {
  case " $CMDLINE " in *" topo.trace "*) read -r up _ < /proc/uptime; log "[$up] $*" ;; esac
}

/bin/busybox mount -t proc proc /proc
read -r CMDLINE < /proc/cmdline
trace init
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /dev/pts /root "$T"
mount -t devpts devpts /dev/pts

# Modules in dependency order, computed at build time from the kernel's own dependency data.
# The virtio-pci transport only matters when there is a PCI bus with devices (microvm,pcie=on).
pci=
for d in /sys/bus/pci/devices/*; do [ -e "$d" ] && pci=1; break; done
while read -r m; do
  case $m in
    virtio_pci*) [ -n "$pci" ] || continue ;;
    efivarfs*) [ -d /sys/firmware/efi ] || continue ;; # only when booted by UEFI
  esac
  insmod "/lib/modules/$m" || log "insmod $m failed"
done < /lib/modules/topo.order
trace modules loaded
# Booted by UEFI (topo's ESP): EFI variables readable and writable, as on a full distribution
# (efivarfs is a module: mounted once the modules are in).
[ -d /sys/firmware/efi/efivars ] && mount -t efivarfs efivarfs /sys/firmware/efi/efivars

# packages: a read-only erofs image on the virtio-blk disk with serial "topo-layer" (src/guest/layer.ts),
# overlaid on each top-level directory it holds; writes go to the tmpfs /run. Then the runtime directories
# and accounts the packages' maintainer scripts would have made (layer.dirs; /etc/passwd is in the image).
for b in /sys/block/vd*; do
  # The serial has no trailing newline: `read` would report EOF.
  [ -r "$b/serial" ] && [ "$(cat "$b/serial")" = topo-layer ] || continue
  while read -r m; do insmod "/lib/modules/$m" || log "insmod $m failed"; done < /lib/modules/topo-layer.order
  L=$T/layer
  mkdir -p "$L"
  mount -t erofs -o ro "/dev/${b##*/}" "$L" || { log "cannot mount the packages layer"; break; }
  for n in bin sbin lib lib64 usr etc var opt srv; do
    d=$L/$n
    [ -d "$d" ] && [ ! -L "$d" ] && [ ! -L "/$n" ] || continue
    mkdir -p "/$n" "$T/ovl/$n/u" "$T/ovl/$n/w"
    mount -t overlay overlay -o "lowerdir=$d:/$n,upperdir=$T/ovl/$n/u,workdir=$T/ovl/$n/w" "/$n" || log "cannot overlay /$n"
  done
  if [ -r "$L/usr/lib/topo/layer.dirs" ]; then
    while read -r p m u g; do mkdir -p "$p" && chmod "$m" "$p" && chown "$u:$g" "$p"; done < "$L/usr/lib/topo/layer.dirs"
  fi
  trace layer mounted
  break
done

# The agent waits for its virtio-serial port by itself: start it now, in parallel with the setup.
setsid /usr/lib/topo/agent </dev/null >/dev/null 2>"$T/agent.log" &

CFG=/sys/firmware/qemu_fw_cfg/by_name/opt/topo/config/raw
if [ -r "$CFG" ]; then
  cat "$CFG" > "$T/config"
else
  log "no configuration (fw_cfg opt/topo/config absent)"
  : > "$T/config"
fi

hostname_b64=
ifaces=0
runs=0
nonce=
channels=
while read -r kw a b c; do
  case $kw in
    hostname) hostname_b64=$a ;;
    iface) ifaces=$((ifaces + 1)) ;;
    run) runs=$((runs + 1)) ;;
    nonce) case $a in *[!0-9a-f]*) log "bad nonce in config" ;; *) nonce=$a ;; esac ;;
    channel) case $a in ''|.*|*[!a-z0-9._-]*) log "bad channel name in config" ;; *) channels="$channels $a" ;; esac ;;
  esac
done < "$T/config"

# Interfaces by MAC: rename every NIC to a temporary name first, so that a final name never clashes
# with a kernel name still in use (eth1 -> eth0 while eth0 exists).
if [ "$ifaces" -gt 0 ]; then
  n=0
  for d in /sys/class/net/*; do
    i=${d##*/}
    [ "$i" = lo ] && continue
    read -r m < "$d/address"
    ip link set dev "$i" name "topotmp$n"
    eval "mac_${m//:/}=topotmp$n"
    n=$((n + 1))
  done
  while read -r kw a b c; do
    [ "$kw" = iface ] || continue
    case $a in *[!0-9a-f:]*) log "bad MAC in config: $a"; continue ;; esac
    eval "cur=\${mac_${a//:/}:-}"
    if [ -z "$cur" ]; then
      log "no interface with MAC $a (for $b)"
      continue
    fi
    ip link set dev "$cur" name "$b" || continue
    ip link set dev "$b" mtu "$c" || log "cannot set MTU $c on $b"
    # No duplicate address detection: addresses are static and usable at once.
    echo 0 > "/proc/sys/net/ipv6/conf/$b/accept_dad" 2>/dev/null
    ip link set dev "$b" up
  done < "$T/config"
fi
ip link set dev lo up

: > /etc/resolv.conf
while read -r kw a b c; do
  case $kw in
    addr) ip addr add "$b" dev "$a" || log "cannot add address $b to $a" ;;
    gateway) ip route add default via "$b" dev "$a" || log "cannot add default route via $b" ;;
    dns) echo "nameserver $a" >> /etc/resolv.conf ;;
  esac
done < "$T/config"

name=topo
[ -n "$hostname_b64" ] && name=$(b64 "$hostname_b64")
hostname "$name"
printf '%s\n' "$name" > /etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 %s\n::1 localhost\n' "$name" > /etc/hosts
log "configured $name: $ifaces interfaces, $runs run commands"
trace configured

# files: a newc archive in fw_cfg "opt/topo/files" (src/guest/files.ts), unpacked over / with parent
# directories created, before any run: command.
FILES=/sys/firmware/qemu_fw_cfg/by_name/opt/topo/files/raw
if [ -r "$FILES" ]; then
  (cd / && cpio -idmu < "$FILES") 2>"$T/files.log" || log "cannot place files: $(tail -n 1 "$T/files.log")"
fi

# shares: virtiofs tags (src/runtime/virtiofsd.ts), mounted after files: so those never land in a host directory.
# ro is a courtesy here: the host's virtiofsd serves a read-only bind mount (the guest is root, no boundary).
shares_loaded=
while read -r kw a b c; do
  [ "$kw" = share ] || continue
  case $a in ''|*[!A-Za-z0-9_.-]*) log "bad share tag in config"; continue ;; esac
  if [ -z "$shares_loaded" ]; then
    while read -r m; do insmod "/lib/modules/$m" 2>/dev/null || grep -q "^${m%.ko} " /proc/modules || log "insmod $m failed"; done < /lib/modules/topo-share.order
    shares_loaded=1
  fi
  p=$(b64 "$b")
  o=ro
  [ "$c" = rw ] && o=rw
  mkdir -p "$p" && mount -t virtiofs -o "$o" "$a" "$p" || log "cannot mount share $a at $p"
done < "$T/config"
[ -n "$shares_loaded" ] && trace shares mounted

# run: commands in order; each one's output goes to the console afterwards, line by line, prefixed.
# Output is collected in a file (not a pipe) so a command that leaves a daemon behind cannot block us.
i=0
while read -r kw a rest; do
  [ "$kw" = run ] || continue
  f="$T/run.$i"
  b64 "$a" > "$f.sh"
  (cd /root && exec sh "$f.sh") </dev/null > "$f.log" 2>&1
  rc=$?
  sed "s/^/topo-run[$i]: /" "$f.log"
  if [ "$rc" -ne 0 ]; then
    log "run[$i] failed with exit code $rc: $(head -n 1 "$f.sh")"
  fi
  i=$((i + 1))
done < "$T/config"

# "ready" means the agent is listening too (or has found no port): wait for it, bounded.
t=0
while [ ! -s "$T/agent.state" ] && [ "$t" -lt 500 ]; do
  usleep 20000
  t=$((t + 1))
done
[ -s "$T/agent.state" ] || log "agent did not start (see $T/agent.log)"
trace agent

# Port names arrive over virtio-serial's control queue shortly after the module loads: wait (bounded)
# until every port present is named and every configured channel is linked.
uevent /init --uevent </dev/null >/dev/null 2>&1 &
t=0
while :; do
  missing=
  for p in /sys/class/virtio-ports/*; do
    [ -e "$p" ] && ! link_port "$p" && missing=1
  done
  for c in $channels; do [ -e "/dev/virtio-ports/$c" ] || missing=1; done
  [ -z "$missing" ] && break
  if [ "$t" -ge 150 ]; then
    for c in $channels; do [ -e "/dev/virtio-ports/$c" ] || log "channel $c did not appear"; done
    break
  fi
  usleep 20000
  t=$((t + 1))
done
trace ports

# The whole line carries this run's nonce: no `run:` output or earlier boot can be taken for it.
log "ready${nonce:+ $nonce}"

# A root shell on the serial console for `topo console`, respawned when it exits; the prompt names the node.
# Each shell gets its own session with the console as controlling tty (job control, ^C). Started by
# start-stop-daemon, not `&`: an async list of this shell would ignore SIGINT, and so would the shell.
read -r con 2>/dev/null < /sys/class/tty/console/active
con=${con##* }
printf '%s\n' "PS1='\\h:\\w# '" > /etc/profile
start-stop-daemon -S -b -p "$T/console.pid" -x /bin/sh -- -c \
  'cd /root; while :; do setsid -c sh -l <>"/dev/$1" >&0 2>&1; sleep 1; done' console "${con:-ttyS0}"

# PID 1 must never exit. Waiting also reaps orphans re-parented to us; poweroff/reboot signals work.
trap 'poweroff -f' USR2
trap 'reboot -f' TERM INT
while :; do
  sleep 2147483647 &
  wait $!
done
