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
