# blk-plan.sh: the dom0 side of blk.sh (run by xen-run.sh with dom0-lib.sh
# loaded): blkfront and the key/value store on disk images, in one boot:
# blk-check's guests, then www serving a disk image.
# Arguments: SEED, and the sector counts of the pattern blk-check writes
# and of the disk (for the hashes of the disk taken here afterwards).
set -u
seed=$1 pattern_sectors=$2 disk_sectors=$3
disk=$(staged_file disk.img) kv=$(staged_file kv.img) bad=$(staged_file bad.img)

# A disk written, flushed, read back, and files read from an image; the
# guest powers off by itself, and the disk is then hashed here.
guest_run -t 240 rw blk-check \
    "disk=['format=raw, vdev=xvda, access=rw, target=$disk', 'format=raw, vdev=xvdb, access=ro, target=$kv']" \
    "extra=\"--block xvda --kv-disk xvdb $seed index.html img/Logo.PNG docs/index.html\""
after=$((3 + pattern_sectors))
{
    echo "pattern $(dd if="$disk" bs=512 skip=3 count="$pattern_sectors" 2>/dev/null | sha256sum | cut -d' ' -f1)"
    echo "head $(dd if="$disk" bs=512 count=3 2>/dev/null | sha256sum | cut -d' ' -f1)"
    echo "tail $(dd if="$disk" bs=512 skip="$after" count=$((disk_sectors - after)) 2>/dev/null |
        sha256sum | cut -d' ' -f1)"
} >"$(result_path rw.disk)"

# A corrupt image: the store refuses it, the app never starts.
guest_run -t 120 corrupt blk-check \
    "disk=['format=raw, vdev=xvdb, access=ro, target=$bad']" "extra=\"--kv-disk xvdb $seed index.html\""

# A disk named that the domain does not have.
guest_run -t 120 nodisk blk-check "extra=\"--block xvdc $seed\""

# www serving its files from a disk image (not the site compiled in: the
# image holds other files), fetched by busybox wget on the bridge; each
# file's SHA-256, the ETag and a 404 go back in www.fetched.
site=$(staged_file site.img)
fetched=$(result_path www.fetched)
: >"$fetched"
if guest_start web www "vif=['bridge=$BRIDGE']" "disk=['format=raw, vdev=xvdb, access=ro, target=$site']" \
    'extra="--kv-disk xvdb --ip 192.0.2.2/24"' && guest_wait_line web 'serving .* on port 8080' 90; then
    for f in a.txt index.html img/Logo.PNG docs/index.html; do
        echo "$f $(timeout 20 wget -q -O - "http://192.0.2.2:8080/$f" | sha256sum | cut -d' ' -f1)" >>"$fetched"
    done
    timeout 20 wget -S -q -O /dev/null http://192.0.2.2:8080/index.html 2>&1 |
        sed -n 's/^ *[Ee][Tt][Aa][Gg]: *\([^ ]*\).*/etag \1/p' | tr -d '\r' >>"$fetched"
    timeout 20 wget -q -O /dev/null http://192.0.2.2:8080/nothere 2>&1 | grep -q 404 && echo "notfound 404" >>"$fetched"
    guest_stop web
fi
guest_finish web
exit 0
