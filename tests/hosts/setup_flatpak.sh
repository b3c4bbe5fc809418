#!/bin/bash
# Build (idempotently) a real Flatpak of GIMP 3 from the trixie chroot that setup_gimp.sh made, so
# tests/test_flatpak.py can run the GIMP plug-in inside a Flatpak sandbox, as Flathub's GIMP runs it.
#
# usage: tests/hosts/setup_flatpak.sh [CHROOT]
#
# Flathub cannot be reached from the project's machines, so the runtime is the chroot itself: its
# /usr (and /etc) committed as runtime org.liif.TestPlatform//test, plus flatpak-spawn at
# /usr/bin, where the freedesktop and GNOME runtimes have it. The app is named org.gimp.GIMP,
# Flathub's id (install.py and the plug-in go by it), with Flathub's permissions for GIMP:
# --filesystem=host, --filesystem=/tmp, --filesystem=xdg-config/GIMP, ipc, x11; and no
# talk-name=org.freedesktop.Flatpak, which install.py adds as a user override.
# Installed system-wide (root), in /var/lib/flatpak, from a local repository (no GPG).
# Measured on a 2-core machine: ~1 min (the runtime's ostree commit, ~815 MB); a second run returns at once.
set -euo pipefail
R=${1:-${LIIF_GIMP_CHROOT:-/tmp/liif-hosts/trixie}}
W=${LIIF_FLATPAK_BUILD:-/tmp/liif-hosts/flatpak}
[ "$(id -u)" = 0 ] || { echo "setup_flatpak.sh: needs root (a system-wide Flatpak installation)" >&2; exit 2; }
[ -x "$R/usr/bin/gimp-console-3.0" ] || { echo "setup_flatpak.sh: no GIMP chroot at $R: run setup_gimp.sh" >&2; exit 2; }
[ -x "$R/usr/libexec/flatpak-xdg-utils/flatpak-spawn" ] || {
    echo "setup_flatpak.sh: the chroot lacks flatpak-spawn: run setup_gimp.sh again" >&2; exit 2; }
FINISH=(--command=gimp-console --filesystem=host --filesystem=/tmp --filesystem=xdg-config/GIMP --share=ipc --socket=x11)
# the marker: what the chroot holds and how the app is made; anything else rebuilds
marker="$(cat "$R/.liif-setup-done") | ${FINISH[*]} | $(sha256sum "$0" | cut -c1-16)"
if [ "$(cat "$W/.done" 2>/dev/null)" = "$marker" ] && flatpak --system info org.gimp.GIMP//test >/dev/null 2>&1; then
    echo "flatpak ready: org.gimp.GIMP//test"; exit 0
fi
for cmd in flatpak bwrap xdg-dbus-proxy dbus-run-session; do
    command -v "$cmd" >/dev/null || { echo "setup_flatpak.sh: $cmd missing: run setup_hosts.sh" >&2; exit 2; }
done
t0=$(date +%s)
flatpak --system uninstall -y --noninteractive org.gimp.GIMP//test org.liif.TestPlatform//test >/dev/null 2>&1 || true
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
flatpak build-init "$W/app" org.gimp.GIMP org.liif.TestPlatform org.liif.TestPlatform test
mkdir -p "$W/app/files/bin"
printf '#!/bin/sh\nexec /usr/bin/gimp-console-3.0 "$@"\n' > "$W/app/files/bin/gimp-console"
chmod +x "$W/app/files/bin/gimp-console"
flatpak build-finish "$W/app" "${FINISH[@]}"
flatpak build-export --disable-sandbox "$W/repo" "$W/app" test
flatpak --system install -y --noninteractive liif-test org.gimp.GIMP//test
rm -rf --one-file-system "$W/runtime" "$W/app"
echo "$marker" > "$W/.done"
echo "flatpak ready: org.gimp.GIMP//test ($(($(date +%s) - t0)) s)"
