#!/bin/bash
# Build (idempotently) a Debian chroot holding GIMP 3 with Python plug-in support, and Krita (trixie's 5.2 for the
# Flatpak tests, forky's 5.3 for tests/test_krita.py).
#
# usage: tests/hosts/setup_gimp.sh [ROOT [SUITE]]
#   SUITE: trixie (default; Debian 13: GIMP 3.0.4, Krita 5.2.9) or forky (Debian testing: GIMP 3.2, Krita 5.3)
#   ROOT defaults to /tmp/liif-hosts/SUITE, or $LIIF_GIMP_CHROOT (trixie), $LIIF_GIMP_FORKY_CHROOT (forky): the
#   paths tests/hosts/gimp_chroot.py looks at.
#
# Why a chroot: the project's machines run Debian 12 (bookworm), which has no GIMP 3; trixie has
# GIMP 3.0.4. Needs root, network access to the Debian mirror the host's apt uses, ~2 GB of disk.
# A second run returns at once ("chroot ready"). Measured on a 2-core machine: ~2 min from nothing
# (debootstrap ~1 min, apt ~1.5 min), ~31 MB + ~130 MB download, ~800 MB on disk; with Krita (added for the
# Flatpak tests, 2026-12-07): debootstrap 22 s, apt 48 s on a fast mirror, 395 MB download, 1.6 GB on disk.
# forky (added 2026-12-07): debootstrap 23 s, apt 40 s, 428 MB download.
# Recipe and pitfalls: shared/docs/hosts.md, part B.
set -euo pipefail
SUITE=${2:-trixie}
case "$SUITE" in
    trixie) R=${1:-${LIIF_GIMP_CHROOT:-/tmp/liif-hosts/trixie}} ;;
    forky) R=${1:-${LIIF_GIMP_FORKY_CHROOT:-/tmp/liif-hosts/forky}} ;;
    *) echo "setup_gimp.sh: SUITE is trixie or forky, not $SUITE" >&2; exit 2 ;;
esac
# the same Debian mirror as the host's apt (no host name hard-coded)
MIRROR=${MIRROR:-$(grep -h -m1 -oP '^URIs:\s*\K\S+' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
        || awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)}
# GIMP with Python plug-in support; Xvfb, xdotool and xwd for the dialog test (gimp-3.0 on a virtual display),
# a D-Bus session and AT-SPI with its Python binding, which read the dialog's text as a screen reader does;
# for the Flatpaks made from this chroot (setup_flatpak.sh): flatpak-spawn, and Krita 5.2 with its Python
PKGS="gimp python3-gi gir1.2-gimp-3.0 gir1.2-gegl-0.4 gir1.2-babl-0.1 xvfb xauth xdotool x11-apps dbus-daemon \
at-spi2-core gir1.2-atspi-2.0 flatpak-xdg-utils krita python3-pyqt5"
# the marker holds the package list, so a chroot built by an older version of this script gets the new ones
if compgen -G "$R/usr/bin/gimp-console-3.*" >/dev/null && [ "$(cat "$R/.liif-setup-done" 2>/dev/null)" = "$PKGS" ]; then
    echo "chroot ready: $R"; exit 0
fi
[ "$(id -u)" = 0 ] || { echo "setup_gimp.sh: needs root (debootstrap, chroot)" >&2; exit 2; }
if grep -qs " $R/" /proc/mounts; then
    echo "setup_gimp.sh: something is mounted under $R; unmount it first" >&2; exit 2
fi
# wait for another apt run (DPkg::Lock::Timeout) rather than failing on its lock
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=900 \
    --no-install-recommends debootstrap
t0=$(date +%s)
mkdir -p "$(dirname "$R")"
# a half-finished debootstrap (no apt-get yet) is restarted from scratch
if [ ! -x "$R/usr/bin/apt-get" ]; then
    rm -rf --one-file-system "$R"
    # (Debian 12's debootstrap has no script named forky: testing is bootstrapped as sid is)
    script=/usr/share/debootstrap/scripts/$SUITE
    [ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid
    debootstrap --variant=minbase "$SUITE" "$R" "$MIRROR" "$script"
fi
t1=$(date +%s)
cp /etc/resolv.conf "$R/etc/resolv.conf"
mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"
trap 'umount "$R/proc" 2>/dev/null || true' EXIT
CH=(chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive)
# a mirror may serve testing's Release after its Valid-Until date (this project's did, by 31 days)
"${CH[@]}" apt-get -o Acquire::Check-Valid-Until=false update -q
"${CH[@]}" apt-get install -y -q --no-install-recommends $PKGS
"${CH[@]}" apt-get clean
t2=$(date +%s)
"${CH[@]}" gimp-console-3 --version
echo "$PKGS" > "$R/.liif-setup-done"
echo "chroot ready: $R (debootstrap $((t1-t0))s, apt $((t2-t1))s)"
