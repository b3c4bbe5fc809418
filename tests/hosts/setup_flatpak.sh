#!/bin/bash
# Build (idempotently) real Flatpaks of GIMP 3 and Krita 5.2 from the trixie chroot that setup_gimp.sh made,
# so tests/test_flatpak.py can run the plug-ins inside a Flatpak sandbox, as Flathub's editors run them.
#
# usage: tests/hosts/setup_flatpak.sh [CHROOT]
#
# Flathub cannot be reached from the project's machines, so the runtime is the chroot itself: its
# /usr (and /etc) committed as runtime org.liif.TestPlatform//test, plus flatpak-spawn at
# /usr/bin, where the freedesktop and GNOME runtimes have it. The apps are named as on Flathub
# (org.gimp.GIMP, org.kde.krita: install.py and the plug-ins go by the id), with their Flathub
# permissions (--filesystem=host, ipc, x11; GIMP's --filesystem=/tmp and xdg-config/GIMP; Krita's
# PYTHONPATH=/app/lib/python3/dist-packages) and no talk-name=org.freedesktop.Flatpak, which install.py
# adds as a user override. One deviation: Krita also gets --filesystem=/tmp, where the tests' files are.
# Installed system-wide (root), in /var/lib/flatpak, from a local repository (no GPG).
# Measured on a 2-core machine: ~1.5 min (the runtime's ostree commit); a second run returns at once.
set -euo pipefail
R=${1:-${LIIF_GIMP_CHROOT:-/tmp/liif-hosts/trixie}}
W=${LIIF_FLATPAK_BUILD:-/tmp/liif-hosts/flatpak}
[ "$(id -u)" = 0 ] || { echo "setup_flatpak.sh: needs root (a system-wide Flatpak installation)" >&2; exit 2; }
[ -x "$R/usr/bin/gimp-console-3.0" ] || { echo "setup_flatpak.sh: no GIMP chroot at $R: run setup_gimp.sh" >&2; exit 2; }
[ -x "$R/usr/libexec/flatpak-xdg-utils/flatpak-spawn" ] || {
    echo "setup_flatpak.sh: the chroot lacks flatpak-spawn: run setup_gimp.sh again" >&2; exit 2; }
[ -x "$R/usr/bin/kritarunner" ] || { echo "setup_flatpak.sh: the chroot lacks Krita: run setup_gimp.sh again" >&2; exit 2; }
# the marker: what the chroot holds (its packages and versions) and how the apps are made (this script)
marker="$(sha256sum "$R/var/lib/dpkg/status" | cut -c1-16) $(sha256sum "$0" | cut -c1-16)"
if [ "$(cat "$W/.done" 2>/dev/null)" = "$marker" ] && flatpak --system info org.gimp.GIMP//test >/dev/null 2>&1 \
        && flatpak --system info org.kde.krita//test >/dev/null 2>&1; then
    echo "flatpak ready: org.gimp.GIMP//test, org.kde.krita//test"; exit 0
fi
for cmd in flatpak bwrap xdg-dbus-proxy dbus-run-session; do
    command -v "$cmd" >/dev/null || { echo "setup_flatpak.sh: $cmd missing: run setup_hosts.sh" >&2; exit 2; }
done
t0=$(date +%s)
flatpak --system uninstall -y --noninteractive org.gimp.GIMP//test org.kde.krita//test org.liif.TestPlatform//test \
    >/dev/null 2>&1 || true
flatpak --system remote-delete --force liif-test >/dev/null 2>&1 || true
rm -rf --one-file-system "$W"
mkdir -p "$W/runtime"
# hard links: the commit reads the files, nothing is copied twice
cp -al "$R/usr" "$W/runtime/files"
cp -a "$R/etc" "$W/runtime/files/etc"
ln -sf ../libexec/flatpak-xdg-utils/flatpak-spawn "$W/runtime/files/bin/flatpak-spawn"
printf '[Runtime]\nname=org.liif.TestPlatform\nruntime=org.liif.TestPlatform/x86_64/test\nsdk=org.liif.TestPlatform/x86_64/test\n' \
    > "$W/runtime/metadata"
flatpak build-export --files=files --disable-sandbox "$W/repo" "$W/runtime" test
flatpak --system remote-add --no-gpg-verify liif-test "$W/repo"
flatpak --system install -y --noninteractive liif-test org.liif.TestPlatform//test
# app ID, the command it runs (a script in /app/bin, as Flathub's apps have theirs), its permissions
app() {
    local id=$1 command=$2; shift 2
    rm -rf --one-file-system "$W/app"
    flatpak build-init "$W/app" "$id" org.liif.TestPlatform org.liif.TestPlatform test
    mkdir -p "$W/app/files/bin"
    printf '#!/bin/sh\nexec %s "$@"\n' "$command" > "$W/app/files/bin/run"
    chmod +x "$W/app/files/bin/run"
    flatpak build-finish "$W/app" --command=run "$@"
    flatpak build-export --disable-sandbox "$W/repo" "$W/app" test
    flatpak --system install -y --noninteractive liif-test "$id//test"
}
app org.gimp.GIMP /usr/bin/gimp-console-3.0 --filesystem=host --filesystem=/tmp --filesystem=xdg-config/GIMP \
    --share=ipc --socket=x11
app org.kde.krita /usr/bin/krita --filesystem=host --filesystem=/tmp --share=ipc --socket=x11 \
    --env=PYTHONPATH=/app/lib/python3/dist-packages --env=FLATPAK=1
rm -rf --one-file-system "$W/runtime" "$W/app"
echo "$marker" > "$W/.done"
echo "flatpak ready: org.gimp.GIMP//test, org.kde.krita//test ($(($(date +%s) - t0)) s)"
