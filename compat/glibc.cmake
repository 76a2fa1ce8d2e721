# The glibc symbol ceiling: what we ship loads on glibc OTELPRELOAD_GLIBC_CEILING
# (2.17: RHEL/CentOS 7, and the first glibc of aarch64) and every later one,
# although it is built on a newer glibc.
#
# op_glibc_compat(TARGET) gives a shared object of ours (and
# op_glibc_compat_flags() the third-party code linked into one) what that
# takes; on a C library other than glibc, and in sanitizer builds (never
# shipped), it does nothing:
#   - every source is compiled with gen/glibc_symver.h force-included, which
#     binds the libc-family calls that moved or changed version after the
#     ceiling to the version they had then (compat/glibc_symver.sh);
#   - the calls with no version that old (stat and friends, fcntl64,
#     getrandom...) are redirected to compat/glibc_compat.c with --wrap;
#   - libpthread.so.0 and libdl.so.2 are needed explicitly: empty stubs on
#     glibc >= 2.34, where the pthread and dl calls of the old versions
#     come from on older ones.
# tests/portable/glibc_ceiling.sh checks the result with objdump -T.

set(OTELPRELOAD_GLIBC_CEILING "GLIBC_2.17" CACHE STRING
  "Newest glibc symbol version the shipped objects may need (empty: no ceiling)")

include(CheckCSourceCompiles)
check_c_source_compiles("#include <features.h>
#ifndef __GLIBC__
#error not glibc
#endif
int main(void) { return 0; }" OP_HAVE_GLIBC)

set(OP_GLIBC_COMPAT OFF)
if(OP_HAVE_GLIBC AND OTELPRELOAD_GLIBC_CEILING AND NOT OTELPRELOAD_SANITIZE)
  set(OP_GLIBC_COMPAT ON)
endif()

set(OP_GLIBC_WRAPPED stat lstat fstat fstatat stat64 lstat64 fstat64 fstatat64
  fcntl64 getrandom getentropy explicit_bzero reallocarray)

if(OP_GLIBC_COMPAT)
  set(op_dsos)
  foreach(so libc.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libm.so.6
      ld-linux-x86-64.so.2 ld-linux-aarch64.so.1)
    execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${so}
      OUTPUT_VARIABLE p OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(IS_ABSOLUTE "${p}" AND EXISTS "${p}")
      list(APPEND op_dsos ${p})
    endif()
  endforeach()
  if(NOT op_dsos MATCHES "libc\\.so\\.6")
    message(FATAL_ERROR "glibc ceiling: ${CMAKE_C_COMPILER} cannot find its libc.so.6")
  endif()
  set(OP_GLIBC_SYMVER_H ${CMAKE_BINARY_DIR}/gen/glibc_symver.h)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/gen)
  execute_process(
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/glibc_symver.sh ${OTELPRELOAD_GLIBC_CEILING}
      ${OP_GLIBC_SYMVER_H} ${CMAKE_CURRENT_SOURCE_DIR}/preload/exports.map ${op_dsos}
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "compat/glibc_symver.sh failed (${rc})")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
    ${CMAKE_CURRENT_LIST_DIR}/glibc_symver.sh ${op_dsos})
  add_library(op_glibc_compat OBJECT ${CMAKE_CURRENT_LIST_DIR}/glibc_compat.c)
  target_compile_options(op_glibc_compat PRIVATE "SHELL:-include ${OP_GLIBC_SYMVER_H}")
endif()

# op_glibc_compat_flags(TARGET): the force-included header only, for code
# (ours or bundled) that ends up in an object op_glibc_compat() handles.
function(op_glibc_compat_flags target)
  if(OP_GLIBC_COMPAT)
    # SHELL: keeps CMake from merging two -include options into one.
    target_compile_options(${target} PRIVATE "SHELL:-include ${OP_GLIBC_SYMVER_H}")
  endif()
endfunction()

function(op_glibc_compat target)
  if(NOT OP_GLIBC_COMPAT)
    return()
  endif()
  op_glibc_compat_flags(${target})
  target_sources(${target} PRIVATE $<TARGET_OBJECTS:op_glibc_compat>)
  foreach(s ${OP_GLIBC_WRAPPED})
    target_link_options(${target} PRIVATE -Wl,--wrap=${s})
  endforeach()
  target_link_libraries(${target} PRIVATE
    "-Wl,--push-state,--no-as-needed" -l:libpthread.so.0 -l:libdl.so.2 "-Wl,--pop-state")
endfunction()
