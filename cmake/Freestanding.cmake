# The portable layers (lwt/, sched/, net/, http/) may use only the freestanding
# C subset that os-xen/ provides (DESIGN.md §1). tessera_freestanding_check()
# compiles a library's sources once more with -ffreestanding -nostdinc against
# cmake/freestanding/include, which declares exactly that subset: including
# any other header, or calling an undeclared function, fails the build.
set(TESSERA_FREESTANDING_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/freestanding/include)
set(TESSERA_FREESTANDING_FLAGS
    -ffreestanding -nostdinc -fno-builtin
    -Werror=implicit-function-declaration -Werror=implicit-int)

function(tessera_freestanding_check target)
  get_target_property(_sources ${target} SOURCES)
  get_target_property(_dir ${target} SOURCE_DIR)
  set(_abs)
  foreach(_s IN LISTS _sources)
    if(_s MATCHES "\\.c$")
      if(IS_ABSOLUTE ${_s})
        list(APPEND _abs ${_s})
      else()
        list(APPEND _abs ${_dir}/${_s})
      endif()
    endif()
  endforeach()
  add_library(${target}_freestanding OBJECT ${_abs})
  target_compile_options(${target}_freestanding PRIVATE ${TESSERA_FREESTANDING_FLAGS})
  target_include_directories(${target}_freestanding SYSTEM BEFORE PRIVATE ${TESSERA_FREESTANDING_INCLUDE})
  # The target's own include directories and definitions, including those
  # its linked libraries export.
  target_include_directories(${target}_freestanding PRIVATE ${_dir}
                             $<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>)
  target_compile_definitions(${target}_freestanding PRIVATE
                             $<TARGET_PROPERTY:${target},COMPILE_DEFINITIONS>)
  # Sanitizer instrumentation would pull in runtime symbols; the check is
  # about headers and declarations only.
  target_compile_options(${target}_freestanding PRIVATE -fno-sanitize=all)
endfunction()
