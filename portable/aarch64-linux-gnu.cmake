# Cross-compiling for aarch64 with Debian's gcc-aarch64-linux-gnu; checks
# that must run a program (libcurl's configuration has some) run it under
# qemu-user with the cross glibc as its root.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)
