# shellcheck shell=bash disable=SC2034  # sourced by bench/run-install.sh, which reads these globals
# SWUpdate side of bench/run-install.sh (Debian's swupdate). Sourced; needs IMG,
# IMG_BYTES, WORK, PKI.
#
# A .swu (cpio -H crc) with a CMS-signed sw-description naming one raw image with its
# sha256, installed-directly (streamed into the slot file, as SWUpdate does on devices),
# installed with `swupdate -i`. The time is taken from the start to the moment SWUpdate
# prints "SWUPDATE successful": in -i mode its feeder thread then sleeps about a second
# before the process exits, which is not install work. SWUpdate does not fsync the slot.

SWU_DIR=
SWU_WHY=
swu_skip() { SWU_WHY=$1; return 1; }

swupdate_setup() {
    need_pkgs swupdate cpio || swu_skip "$PKG_WHY" || return 1
    SWU_DIR=$WORK/swupdate
    local d=$SWU_DIR sha
    mkdir -p "$d/pkg" "$d/tmp"
    SWU_SLOT=$d/slot.img
    truncate -s "$IMG_BYTES" "$SWU_SLOT"
    ln "$IMG" "$d/pkg/rootfs.img" 2>/dev/null || cp "$IMG" "$d/pkg/rootfs.img"
    sha=$(openssl dgst -sha256 -r "$IMG" | cut -d' ' -f1)
    cat >"$d/pkg/sw-description" <<DESC
software =
{
	version = "2.0.0";
	description = "secup install bench";
	hardware-compatibility: [ "1.0" ];
	images: (
		{
			filename = "rootfs.img";
			device = "$SWU_SLOT";
			type = "raw";
			sha256 = "$sha";
			installed-directly = true;
		}
	);
}
DESC
    openssl cms -sign -binary -nosmimecap -outform DER -in "$d/pkg/sw-description" \
        -out "$d/pkg/sw-description.sig" -signer "$PKI/signer.cert.pem" \
        -inkey "$PKI/signer.key.pem" 2>"$d/sign.log" ||
        swu_skip "openssl cms -sign failed: $(tail -n 1 "$d/sign.log")" || return 1
    (cd "$d/pkg" && printf 'sw-description\nsw-description.sig\nrootfs.img\n' |
        cpio -o -H crc --quiet >"$d/bench.swu") || swu_skip "cpio failed" || return 1
    SWU_ARGS=(-H install-bench:1.0 -k "$PKI/ca.cert.pem" -i "$d/bench.swu")
    swupdate_run || swu_skip "swupdate -i failed: $(grep -a -m1 'ERROR' "$d/run.log" | cut -c1-160)" || return 1
    cmp -s "$IMG" "$SWU_SLOT" || swu_skip "after swupdate -i, the slot does not hold the image" || return 1
    SWU_VERSION="SWUpdate $(dpkg-query -W -f='${Version}' swupdate 2>/dev/null)"
}

# swupdate_run: one timed install -> SWU_T (s, start to "SWUPDATE successful"),
# SWU_RSS (kB, GNU time %M: the largest process of SWUpdate's tree).
swupdate_run() {
    local d=$SWU_DIR t0 line
    dd if=/dev/zero of="$SWU_SLOT" bs=1M count=1 conv=notrunc,fsync status=none
    t0=$(now)
    TMPDIR=$d/tmp /usr/bin/time -o "$d/rss.txt" -f '%M' swupdate "${SWU_ARGS[@]}" 2>&1 |
        while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$d/run.log"
    SWU_T=$(awk -v t0="$t0" '/SWUPDATE successful/ { sub(",", ".", $1); printf "%.6f", $1 - t0; exit }' "$d/run.log")
    SWU_RSS=$(tail -n 1 "$d/rss.txt")
    [ -n "$SWU_T" ] || return 1
    # SWUpdate leaves the image in the page cache, dirty: flush it (untimed) so that its
    # writeback does not land in the next tool's measurement.
    sync "$SWU_SLOT"
}

swupdate_sync_calls() {
    sync_calls "$SWU_DIR/strace.txt" env TMPDIR="$SWU_DIR/tmp" swupdate "${SWU_ARGS[@]}"
}
