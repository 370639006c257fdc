# Prints a Xen image's size after the build (cmake -DIMAGE=path -P this).
file(SIZE ${IMAGE} _bytes)
math(EXPR _kib "(${_bytes} + 1023) / 1024")
get_filename_component(_name ${IMAGE} NAME)
message("xen image ${_name}: ${_bytes} bytes (${_kib} KiB)")
