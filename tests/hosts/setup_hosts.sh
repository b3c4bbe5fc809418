#!/bin/bash
# Install the real editors the host tests drive: Debian's Krita 5.1 (with PyQt5, Xvfb, xdotool)
# and GIMP 3.0 and 3.2 in Debian trixie and forky chroots (tests/hosts/setup_gimp.sh), plus the Debian material the
# `icons` and `docs` evaluation sets are drawn from, and a CMYK colour profile (libgs-common) for the
# CLI's CMYK test; Flatpak, and Flatpaks of both GIMPs and Kritas (tests/hosts/setup_flatpak.sh). Idempotent; needs root and the Debian mirror.
# Without root it says so and the editor tests skip with their reason.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup_hosts.sh: not root on Debian: Krita and GIMP tests will be skipped" >&2
    exit 0
fi
need=""
for cmd in kritarunner Xvfb xdotool xauth flatpak bwrap; do command -v "$cmd" >/dev/null || need=1; done
python3 -c "import PyQt5" 2>/dev/null || [ -f /usr/lib/python3/dist-packages/PyQt5/__init__.py ] || need=1
for dir in /usr/share/icons/breeze /usr/share/icons/Papirus /usr/share/debian-reference; do
    [ -d "$dir" ] || need=1
done
[ -f /usr/share/color/icc/ghostscript/default_cmyk.icc ] || need=1
if [ -n "$need" ]; then
    packages="krita python3-pyqt5 xvfb xauth xdotool x11-apps breeze-icon-theme papirus-icon-theme debian-reference-en libgs-common flatpak bubblewrap"
    apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=900 "$@"; }
    # shellcheck disable=SC2086
    apt_get install $packages || { apt_get update && apt_get install $packages; }
fi
"$here/setup_gimp.sh"
"$here/setup_gimp.sh" "" forky  # GIMP 3.2 (Debian testing): tests/test_gimp.py runs in both
for suite in trixie forky; do  # Flatpaks of GIMP 3.0 and Krita 5.2, of GIMP 3.2 and Krita 5.3
    "$here/setup_flatpak.sh" "$suite" || echo "setup_hosts.sh: the $suite Flatpaks of GIMP and Krita could not be built:" \
        "tests/test_flatpak.py will skip them" >&2
done
