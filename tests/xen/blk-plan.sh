# blk-plan.sh: the dom0 side of blk.sh (run by xen-run.sh with dom0-lib.sh
# loaded): blkfront and the key/value store on disk images, in one boot.
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
exit 0
