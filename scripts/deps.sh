# Installs the Debian packages Tessera builds and tests with, only those that
# are missing. Sourced by run-main and run-tests.
tessera_install_deps() {
    local wanted=(cmake gcc make pkg-config libev-dev liburcu-dev libcmocka-dev libxen-dev valgrind
                  ocaml-nox ocaml-findlib liblwt-ocaml-dev clang-format "$@")
    local missing=()
    local p
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    echo "installing Debian packages: ${missing[*]}" >&2
    local sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq >&2
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# What only the test suite needs: the Linux side's network tools for the
# tests over tap (nftables drops packets at random where the kernel has no
# netem), a DHCP server (the binary only, no service), packet
# crafting (Debian's python3, /usr/bin/python3, has scapy) and capture
# reading, clang with its runtime for the libFuzzer harness, curl and
# a headless Chromium for the web server's tests, and QEMU for booting the
# real Xen hypervisor (tests/xen: Xen, dom0's kernel and tools come from
# Debian's packages through `apt-get download`, never installed).
TESSERA_TEST_PACKAGES=(iproute2 iputils-ping arping socat netcat-openbsd dnsmasq-base python3-scapy tshark nftables
                       clang libclang-rt-14-dev curl chromium qemu-system-x86)
