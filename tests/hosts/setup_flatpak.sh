#!/bin/bash
# Build (idempotently) real Flatpaks of GIMP and Krita from a Debian chroot that setup_gimp.sh made, so
# tests/test_flatpak.py can run the plug-ins inside a Flatpak sandbox, as Flathub's editors run them.
#
# usage: tests/hosts/setup_flatpak.sh [SUITE]
#   SUITE: trixie (default: GIMP 3.0, Krita 5.2) or forky (GIMP 3.2, Krita 5.3), the chroot setup_gimp.sh made
#
# Each suite gets a Flatpak installation of its own, $LIIF_FLATPAK_BUILD/SUITE/system (default
# /tmp/liif-hosts/flatpak/SUITE/system), which FLATPAK_SYSTEM_DIR selects for flatpak and install.py alike: a test
# sees one GIMP and one Krita, as a user does, and the machine's own installation (/var/lib/flatpak) stays as it was.
# Flathub cannot be reached from the project's machines, so the runtime is the chroot itself: its
# /usr (and /etc) committed as runtime org.liif.TestPlatform//SUITE, plus flatpak-spawn at
# /usr/bin, where the freedesktop and GNOME runtimes have it. The apps are named as on Flathub
# (org.gimp.GIMP, org.kde.krita: install.py and the plug-ins go by the id), on Flathub's branch (stable), with
# Flathub's permissions: GIMP's --filesystem=xdg-config/GIMP:create (Flatpak mounts the host's ~/.config/GIMP over
# the app's own config/GIMP: the Flatpak GIMP's profiles are the host's), host, /tmp, ipc, x11; Krita's host,
# PYTHONPATH=/app/lib/python3/dist-packages, TMPDIR=/var/tmp (the app's own cache/tmp: a temporary file of the
# plug-in is not where the host's /var/tmp is); neither has talk-name=org.freedesktop.Flatpak, which install.py adds
# as a user override. One deviation: Krita also gets --filesystem=/tmp, where the tests' files are. Each app's
# /app/bin holds GIMP's or Krita's programs under their own names (gimp-3.2 names GIMP's version, as in
# Flathub's app), linked to the runtime's. From a local repository (no GPG).
# Measured on a 2-core machine: ~1.5 min per suite (the runtime's ostree commit); a second run returns at once.
set -euo pipefail
SUITE=${1:-trixie}
case "$SUITE" in
    trixie) R=${LIIF_GIMP_CHROOT:-/tmp/liif-hosts/trixie} ;;
    forky) R=${LIIF_GIMP_FORKY_CHROOT:-/tmp/liif-hosts/forky} ;;
    *) echo "setup_flatpak.sh: SUITE is trixie or forky, not $SUITE" >&2; exit 2 ;;
esac
W=${LIIF_FLATPAK_BUILD:-/tmp/liif-hosts/flatpak}/$SUITE
export FLATPAK_SYSTEM_DIR=$W/system
[ "$(id -u)" = 0 ] || { echo "setup_flatpak.sh: needs root (the chroot's files are root's)" >&2; exit 2; }
console=$(compgen -G "$R/usr/bin/gimp-console-3.*" | head -1) || {
    echo "setup_flatpak.sh: no GIMP chroot at $R: run setup_gimp.sh \"\" $SUITE" >&2; exit 2; }
[ -x "$R/usr/libexec/flatpak-xdg-utils/flatpak-spawn" ] || {
    echo "setup_flatpak.sh: the chroot lacks flatpak-spawn: run setup_gimp.sh again" >&2; exit 2; }
[ -x "$R/usr/bin/kritarunner" ] || { echo "setup_flatpak.sh: the chroot lacks Krita: run setup_gimp.sh again" >&2; exit 2; }
# the marker: what the chroot holds (its packages and versions) and how the apps are made (this script)
marker="$(sha256sum "$R/var/lib/dpkg/status" | cut -c1-16) $(sha256sum "$0" | cut -c1-16)"
if [ "$(cat "$W/.done" 2>/dev/null)" = "$marker" ] && flatpak --system info org.gimp.GIMP >/dev/null 2>&1 \
        && flatpak --system info org.kde.krita >/dev/null 2>&1; then
    echo "flatpak ready: $FLATPAK_SYSTEM_DIR"; exit 0
fi
for cmd in flatpak bwrap xdg-dbus-proxy dbus-run-session; do
    command -v "$cmd" >/dev/null || { echo "setup_flatpak.sh: $cmd missing: run setup_hosts.sh" >&2; exit 2; }
done
t0=$(date +%s)
rm -rf --one-file-system "$W"
mkdir -p "$W/runtime"
# hard links: the commit reads the files, nothing is copied twice
cp -al "$R/usr" "$W/runtime/files"
cp -a "$R/etc" "$W/runtime/files/etc"
ln -sf ../libexec/flatpak-xdg-utils/flatpak-spawn "$W/runtime/files/bin/flatpak-spawn"
printf '[Runtime]\nname=org.liif.TestPlatform\nruntime=org.liif.TestPlatform/x86_64/%s\nsdk=org.liif.TestPlatform/x86_64/%s\n' \
    "$SUITE" "$SUITE" > "$W/runtime/metadata"
flatpak build-export --files=files --disable-sandbox "$W/repo" "$W/runtime" "$SUITE"
flatpak --system remote-add --no-gpg-verify liif-test "$W/repo"
flatpak --system install -y --noninteractive liif-test "org.liif.TestPlatform//$SUITE"
# app ID, the programs of the runtime its /app/bin links to (the first is the command it runs), its permissions
app() {
    local id=$1 programs=$2; shift 2
    rm -rf --one-file-system "$W/app"
    flatpak build-init "$W/app" "$id" org.liif.TestPlatform org.liif.TestPlatform "$SUITE"
    mkdir -p "$W/app/files/bin"
    for program in $programs; do ln -s "/usr/bin/$program" "$W/app/files/bin/$program"; done
    flatpak build-finish "$W/app" --command="${programs%% *}" "$@"
    flatpak build-export --disable-sandbox "$W/repo" "$W/app" stable
    flatpak --system install -y --noninteractive liif-test "$id//stable"
}
console=$(basename "$console")  # gimp-console-3.0, gimp-console-3.2
app org.gimp.GIMP "$console ${console/-console/} gimp gimp-console" --filesystem=host --filesystem=/tmp \
    --filesystem=xdg-config/GIMP:create --filesystem=xdg-config/gtk-3.0 --share=ipc --socket=x11
app org.kde.krita "krita kritarunner" --filesystem=host --filesystem=/tmp --share=ipc --socket=x11 \
    --filesystem=xdg-config/kdeglobals:ro --env=PYTHONPATH=/app/lib/python3/dist-packages --env=TMPDIR=/var/tmp \
    --env=FLATPAK=1
rm -rf --one-file-system "$W/runtime" "$W/app"
echo "$marker" > "$W/.done"
echo "flatpak ready: $FLATPAK_SYSTEM_DIR ($(($(date +%s) - t0)) s): org.gimp.GIMP ($console), org.kde.krita"
