# Thin wrapper around CMake. `make` builds, `make test` runs every suite,
# `make bench` runs the benchmarks, `make demo` shows kaon at work,
# `make install [PREFIX=/usr/local] [DESTDIR=]` installs the library.
BUILD       ?= build
BUILD_ASAN  ?= build-asan
BUILD_ARM   ?= build-aarch64
JOBS        ?= $(shell nproc)
CTEST_FLAGS ?= --output-on-failure -j$(JOBS)

PREFIX      ?= /usr/local
DESTDIR     ?=
CMAKE_FLAGS ?=

.PHONY: all deps configure install test test-main test-asan test-aarch64 bench demo clean

all: deps configure
	cmake --build $(BUILD) -j$(JOBS)

deps:
	@./scripts/deps.sh

configure:
	@[ -f $(BUILD)/CMakeCache.txt ] || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

# Headers, libraries (static, and shared with a SONAME), kaon.pc, the CMake
# package, the tools and kaon's XDP program under $(DESTDIR)$(PREFIX). The
# prefix is compiled in (where kaon looks for its XDP program), so the build
# is reconfigured with it; DESTDIR only stages the files.
install:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# The whole suite: the optimized build, the same tests under ASan+UBSan, and
# the core tests cross-built for aarch64 under qemu-user.
test: all test-main test-asan test-fuzz test-aarch64

test-main: all
	cd $(BUILD) && ctest $(CTEST_FLAGS)

# The overload test alone (1,000 connections, every PMD; about 2.5 minutes).
.PHONY: test-overload
test-overload: all
	cd $(BUILD) && ctest --output-on-failure -R '^test_overload$$'

test-asan: deps
	@[ -f $(BUILD_ASAN)/CMakeCache.txt ] || cmake -S . -B $(BUILD_ASAN) \
		-DCMAKE_BUILD_TYPE=Debug -DKAON_SANITIZE=ON -DCMAKE_C_COMPILER=clang
	cmake --build $(BUILD_ASAN) -j$(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 ctest $(CTEST_FLAGS) -LE no-asan

test-aarch64: deps
	@[ -f $(BUILD_ARM)/CMakeCache.txt ] || cmake -S . -B $(BUILD_ARM) \
		-DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
	cmake --build $(BUILD_ARM) -j$(JOBS)
	cd $(BUILD_ARM) && ctest $(CTEST_FLAGS) -L core

# The stack's receive path under libFuzzer (clang) for FUZZ_SECS seconds,
# from the seed corpus in fuzz/corpus; new inputs go to a scratch directory.
BUILD_FUZZ ?= build-fuzz
FUZZ_SECS  ?= 60
# kaon-httpd's request parser (fuzz/fuzz_http_parse.c), after the stack.
FUZZ_HTTP_SECS ?= 30
.PHONY: test-fuzz
test-fuzz: deps
	@[ -f $(BUILD_FUZZ)/CMakeCache.txt ] || cmake -S fuzz -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang
	cmake --build $(BUILD_FUZZ) -j$(JOBS)
	mkdir -p $(BUILD_FUZZ)/corpus-run
	$(BUILD_FUZZ)/fuzz_net_rx -max_total_time=$(FUZZ_SECS) -print_final_stats=1 \
		$(BUILD_FUZZ)/corpus-run fuzz/corpus
	mkdir -p $(BUILD_FUZZ)/corpus-http-run
	$(BUILD_FUZZ)/fuzz_http_parse -max_total_time=$(FUZZ_HTTP_SECS) -print_final_stats=1 \
		$(BUILD_FUZZ)/corpus-http-run fuzz/corpus-http

# Benchmarks: the coroutine switch, the stack over the in-memory link, and
# bench/run (127.0.0.1, then -- as root -- the veth testbed rows).
bench: all
	$(BUILD)/bin/ctxswitch
	$(BUILD)/bin/stack-loop
	./bench/run --build $(BUILD)

# The main job: the same kaon-echo on kaon's own stack (af_xdp, flow
# bifurcation on) and on the kernel, sharing 198.18.0.2 on the veth testbed,
# driven by the same kaon-bench; the side-by-side table with ratios. Needs
# root (namespaces, AF_XDP); without it, the kernel back ends on 127.0.0.1.
demo: all
	./bench/run --build $(BUILD) --demo

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_ARM)
