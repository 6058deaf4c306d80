#!/bin/sh
# `make install` into a scratch DESTDIR, then build examples/echo.c out of
# tree against the staged copy, with pkg-config and with CMake, as C and as
# C++, and run two of the builds as a kernel (epoll) echo server.
#
#   test_install.sh SOURCE_DIR WORK_DIR
set -eu

SRC=$1
WORK=$2
PREFIX=/opt/kaon
STAGE=$WORK/dest
ROOT=$STAGE$PREFIX

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

for t in make cmake pkg-config cc c++ readelf python3; do
	command -v $t >/dev/null || skip "$t is not installed"
done

rm -rf "$WORK"
mkdir -p "$WORK"

# 1. Install. A build of its own (no tests: only what is installed), so the
#    scratch prefix never touches the caller's build tree.
make -C "$SRC" install BUILD="$WORK/build" PREFIX=$PREFIX DESTDIR="$STAGE" JOBS=2 \
	CMAKE_FLAGS="-DKAON_BUILD_TESTS=OFF" >"$WORK/install.log" 2>&1 ||
	{ tail -40 "$WORK/install.log"; fail "make install"; }

# Everything went under DESTDIR (the manifest names the files without it).
while read -r f; do
	case $f in "$PREFIX"/*) ;; *) fail "installed outside PREFIX: $f" ;; esac
	[ -e "$STAGE$f" ] || fail "not staged under DESTDIR: $f"
done <"$WORK/build/install_manifest.txt"

LIBDIR=$ROOT/lib
for f in include/kaon/co.h include/kaon/sock.h include/kaon/user.h lib/libkaon.a \
	lib/libkaon.so lib/pkgconfig/kaon.pc lib/cmake/kaon/kaonConfig.cmake \
	lib/cmake/kaon/kaonConfigVersion.cmake bin/kaon-echo bin/kaon-bench bin/kaon-stat; do
	[ -e "$ROOT/$f" ] || fail "not installed: $PREFIX/$f"
done

# The shared library: SONAME and version, position-independent, DPDK and
# liburing linked into it (private: an application does not name them).
soname=$(readelf -d "$LIBDIR/libkaon.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libkaon.so.0 ] || fail "SONAME is '$soname', want libkaon.so.0"
[ -e "$LIBDIR/libkaon.so.0" ] || fail "no libkaon.so.0 link"
ls "$LIBDIR"/libkaon.so.0.* >/dev/null 2>&1 || fail "no versioned libkaon.so.0.x.y"
readelf -d "$LIBDIR/libkaon.so" | grep -q TEXTREL && fail "libkaon.so has text relocations (not -fPIC)"
needed=$(readelf -d "$LIBDIR/libkaon.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "$needed" | grep -q '^librte_ethdev' || fail "libkaon.so does not link DPDK: $needed"
if grep -q '^KAON_WITH_URING:BOOL=ON' "$WORK/build/CMakeCache.txt"; then
	echo "$needed" | grep -q '^liburing' || fail "libkaon.so does not link liburing: $needed"
	grep -q '^Requires.private:.*liburing' "$LIBDIR/pkgconfig/kaon.pc" || fail "kaon.pc: no liburing"
fi
grep -q '^Requires.private:.*libdpdk' "$LIBDIR/pkgconfig/kaon.pc" || fail "kaon.pc: no libdpdk"

# kaon's XDP program where the installed library looks for it.
if [ -e "$WORK/build/bpf/kaon_xdp.o" ]; then
	[ -e "$LIBDIR/bpf/kaon_xdp.o" ] || fail "kaon_xdp.o not installed in $PREFIX/lib/bpf"
	grep -q "$PREFIX/lib/bpf/kaon_xdp.o" "$LIBDIR/libkaon.so" ||
		fail "libkaon.so does not look for $PREFIX/lib/bpf/kaon_xdp.o"
fi

# 2. Every public header: alone (self-contained) as C and as C++, and all of
#    them in all_headers.cpp, which must name each one.
for h in "$ROOT"/include/kaon/*.h; do
	name=kaon/$(basename "$h")
	grep -q "#include <$name>" "$SRC/tests/install/all_headers.cpp" ||
		fail "tests/install/all_headers.cpp does not include <$name>"
	echo "#include <$name>" | cc -x c -std=c11 -Wall -Wextra -Werror -fsyntax-only \
		-I"$ROOT/include" - || fail "<$name> does not compile alone as C"
	echo "#include <$name>" | c++ -x c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only \
		-I"$ROOT/include" - || fail "<$name> does not compile alone as C++"
done

# 3. pkg-config, from the staged copy (kaon.pc is relocatable).
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
pkg-config --exists kaon || fail "pkg-config does not find kaon"
CFLAGS=$(pkg-config --cflags kaon)
LIBS=$(pkg-config --libs kaon)
# libkaon.a with the shared DPDK, liburing, ... that kaon.pc requires
# privately (`pkg-config --static` would want DPDK's static archives too).
PRIVATE=$(pkg-config --print-requires-private kaon | cut -d' ' -f1 | tr '\n' ' ')
# shellcheck disable=SC2086
STATIC_LIBS="-L$LIBDIR -Wl,-Bstatic -lkaon -Wl,-Bdynamic -pthread $(pkg-config --libs $PRIVATE)"
OUT=$WORK/pc
mkdir -p "$OUT"
# shellcheck disable=SC2086
{
	cc -std=c11 -Wall -Wextra -Werror $CFLAGS "$SRC/examples/echo.c" $LIBS -o "$OUT/echo-c" &&
	c++ -std=c++17 -Wall -Wextra -Werror $CFLAGS -x c++ "$SRC/examples/echo.c" -x none \
		$LIBS -o "$OUT/echo-cxx" &&
	c++ -std=c++17 -Wall -Wextra -Werror $CFLAGS "$SRC/tests/install/all_headers.cpp" \
		$LIBS -o "$OUT/headers-cxx" &&
	cc -std=c11 -Wall -Wextra -Werror $CFLAGS "$SRC/examples/echo.c" $STATIC_LIBS \
		-o "$OUT/echo-static-c"
} || fail "building against kaon with pkg-config"
LD_LIBRARY_PATH=$LIBDIR "$OUT/headers-cxx" || fail "headers-cxx (pkg-config) failed"
LD_LIBRARY_PATH=$LIBDIR ldd "$OUT/echo-cxx" | grep -q "$LIBDIR/libkaon.so.0" ||
	fail "echo-cxx does not load the staged libkaon.so.0"

# 4. CMake: find_package(kaon) -> kaon::kaon, kaon::kaon_static.
cmake -S "$SRC/tests/install/consumer" -B "$WORK/cmake" -DCMAKE_PREFIX_PATH="$ROOT" \
	-DKAON_EXAMPLE="$SRC/examples/echo.c" \
	-DKAON_HEADERS_CPP="$SRC/tests/install/all_headers.cpp" >"$WORK/cmake.log" 2>&1 &&
	cmake --build "$WORK/cmake" -j2 >>"$WORK/cmake.log" 2>&1 ||
	{ tail -40 "$WORK/cmake.log"; fail "building against kaon with CMake"; }
"$WORK/cmake/headers-cxx" || fail "headers-cxx (CMake) failed"

# 5. Run: an echo server from each build system answers on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
echo_once() { # PORT: send a line, expect it back
	python3 - "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
msg = b"kaon installed\n"
s.sendall(msg)
got = b""
while len(got) < len(msg):
    b = s.recv(64)
    if not b:
        break
    got += b
sys.exit(0 if got == msg else 1)
EOF
}
run_echo() { # BINARY: start it, echo through it, stop it
	bin=$1
	log=$WORK/run.log
	for try in 1 2 3; do
		port=$(free_port)
		LD_LIBRARY_PATH=$LIBDIR "$bin" "$port" >"$log" 2>&1 &
		pid=$!
		# Wait for "listening" or for the process to end (port taken
		# meanwhile: try another).
		i=0
		while ! grep -q listening "$log" && kill -0 $pid 2>/dev/null && [ $i -lt 200 ]; do
			sleep 0.05
			i=$((i + 1))
		done
		if grep -q listening "$log"; then
			rc=0
			echo_once "$port" || rc=1
			kill -TERM $pid
			wait $pid || rc=1
			[ $rc -eq 0 ] || { cat "$log"; fail "$bin did not echo"; }
			return 0
		fi
		kill -KILL $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
	done
	cat "$log"
	fail "$bin never listened"
}
run_echo "$OUT/echo-cxx"
run_echo "$OUT/echo-static-c"
run_echo "$WORK/cmake/echo-static-cxx"

echo "PASS: installed in $STAGE$PREFIX; echo.c built with pkg-config and CMake, C and C++"
