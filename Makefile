# git-worktree-ports
#
#   make                 build ./build/git-worktree-ports
#   make check           unit and integration tests, TEST_JOBS at once; ends
#                        with the wall time and "N passed, N failed"
#   make check SANITIZE=1  the same under ASan + UBSan (objects in build/san)
#   make install         PREFIX (/usr/local) and DESTDIR are honoured
#   make deps            install the Debian packages the build and tests need
#   make bench           timings as ratios to 'git worktree list --porcelain'

PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
DATADIR = $(PREFIX)/share/git-worktree-ports
MANDIR = $(PREFIX)/share/man/man1

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS = libgit2 jansson inih

ifeq ($(SANITIZE),1)
BUILD ?= build/san
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT = -O1
else
BUILD ?= build
SAN_FLAGS =
OPT = -O2
endif

# DEVELOPER=1 (CI sets it) makes every warning an error, as git's
# DEVELOPER knob does; a user's build with another compiler still builds.
WARN = -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2
ifeq ($(DEVELOPER),1)
WARN += -Werror
endif
CFLAGS ?= $(OPT) -g
ALL_CFLAGS = $(WARN) $(CFLAGS) $(SAN_FLAGS) -iquote include -MMD -MP \
	$(shell $(PKG_CONFIG) --cflags $(PKGS)) \
	-DWTP_DATADIR='"$(DATADIR)"' -DWTP_VERSION='"$(VERSION)"'
ALL_LDFLAGS = $(LDFLAGS) $(SAN_FLAGS)
# libgit2 is loaded with dlopen() on first use (include/wt-libgit2.h), so
# the binary is linked only against jansson and inih; its soname is read
# from the library the headers belong to (LIBGIT2_SONAME_H, below).
LIBS = $(shell $(PKG_CONFIG) --libs jansson inih) -ldl -pthread
TEST_LIBS = $(LIBS) $(shell $(PKG_CONFIG) --libs cmocka)

VERSION = 0.1.0

PROG = $(BUILD)/git-worktree-ports
# the library (src/*.c) and, above it, the commands (src/builtin/*.c)
# with the command line (src/cli.c) and main(): docs/architecture.md
PROG_SRC = src/main.c src/cli.c $(wildcard src/builtin/*.c)
PROG_OBJ = $(PROG_SRC:src/%.c=$(BUILD)/obj/%.o)
# platform code is picked here, not by #ifdef around whole files
UNAME_S := $(shell uname -s)
ifeq ($(UNAME_S),Linux)
PLATFORM_OUT = src/probe-other.c
else
PLATFORM_OUT = src/probe-linux.c
endif
LIB_SRC = $(filter-out $(PROG_SRC) $(PLATFORM_OUT),$(wildcard src/*.c))
LIB_OBJ = $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
LIBA = $(BUILD)/libwtp.a
UNIT_SRC = $(wildcard tests/unit/test-*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
INTEGRATION = $(wildcard tests/t/t[0-9]*.sh)
# the integration tests' helper program (tests/tool/test-tool.h)
TEST_TOOL = $(BUILD)/tests/test-tool
TEST_TOOL_SRC = $(wildcard tests/tool/*.c)
TEST_TOOL_OBJ = $(TEST_TOOL_SRC:tests/tool/%.c=$(BUILD)/tests/tool/%.o)
# tests/run.sh: TEST_JOBS scripts and programs at once (its default if
# empty), and the label of the wall time it prints
TEST_RUN = BUILD_DIR='$(abspath $(BUILD))' TEST_JOBS='$(TEST_JOBS)' sh tests/run.sh

all: $(PROG)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The hook script, built into the program as a byte array, so that
# install-hooks needs no installed data file.
HOOK_HEADER = $(BUILD)/gen/hook-post-checkout.h

$(HOOK_HEADER): hooks/post-checkout
	@mkdir -p $(@D)
	{ echo '/* Generated from hooks/post-checkout by the Makefile. */'; \
	  echo 'static const unsigned char hook_post_checkout[] = {'; \
	  od -An -v -tx1 hooks/post-checkout | sed 's/[0-9a-f][0-9a-f]/0x&,/g'; \
	  echo '};'; } >$@+ && mv $@+ $@

$(BUILD)/obj/hooks.o: $(HOOK_HEADER)
$(BUILD)/obj/hooks.o: ALL_CFLAGS += -iquote $(BUILD)/gen

# The soname wt-libgit2.c loads: that of the libgit2.so in the libdir of
# the libgit2.pc that gives the headers. Read when building, never when
# the Makefile is parsed, so that 'make deps install' sees the libgit2-dev
# that 'deps' installs; the header is rewritten only when it changes.
LIBGIT2_SONAME_H = $(BUILD)/gen/libgit2-soname.h

$(LIBGIT2_SONAME_H): FORCE $(filter deps,$(MAKECMDGOALS))
	@mkdir -p $(@D)
	@libdir=$$($(PKG_CONFIG) --variable=libdir libgit2) && \
	soname=$$(objdump -p "$$libdir/libgit2.so" | sed -n 's/^ *SONAME *//p') && \
	test -n "$$soname" || { \
		echo "error: cannot read the soname of libgit2.so in '$$libdir' (pkg-config libgit2)" >&2; \
		echo "hint: install libgit2's development files ('make deps': libgit2-dev)" >&2; \
		exit 1; }; \
	echo "#define WTP_LIBGIT2_SONAME \"$$soname\"" >$@+ && \
	if cmp -s $@+ $@; then rm -f $@+; else mv $@+ $@; fi

FORCE:

$(BUILD)/obj/wt-libgit2.o: $(LIBGIT2_SONAME_H)
$(BUILD)/obj/wt-libgit2.o: ALL_CFLAGS += -iquote $(BUILD)/gen

$(BUILD)/tests/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(PROG): $(PROG_OBJ) $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/test-%: $(BUILD)/tests/test-%.o $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TEST_LIBS)

$(BUILD)/tests/tool/%.o: tests/tool/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(TEST_TOOL): $(TEST_TOOL_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs jansson)

test-tool: $(TEST_TOOL)

# a tool for tests/bench.sh: time registry_load() alone
$(BUILD)/tests/registry-load-bench: tests/registry-load-bench.c $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LIBS)

unit: $(UNIT_BIN)

check: $(PROG) $(UNIT_BIN) $(TEST_TOOL)
	@RUN_LABEL='make check' $(TEST_RUN) $(UNIT_BIN) tests/layering.sh $(INTEGRATION)

# every unit test under valgrind: no invalid access, no definite leak
check-valgrind: $(UNIT_BIN)
	@n=0; for t in $(UNIT_BIN); do \
		valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite,indirect $$t >$$t.valgrind 2>&1 \
			|| { cat $$t.valgrind; echo "valgrind: $$n passed, 1 failed"; exit 1; }; \
		echo "valgrind ok: $$t"; n=$$((n + 1)); \
	done; echo "valgrind: $$n passed, 0 failed"

check-unit: $(UNIT_BIN)
	@RUN_LABEL='make check-unit' $(TEST_RUN) $(UNIT_BIN)

check-integration: $(PROG) $(TEST_TOOL)
	@RUN_LABEL='make check-integration' $(TEST_RUN) $(INTEGRATION)

bench: $(PROG) $(TEST_TOOL)
	@BUILD_DIR='$(abspath $(BUILD))' sh tests/bench.sh

install: $(PROG)
	install -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(DATADIR)' '$(DESTDIR)$(MANDIR)'
	install -m 755 $(PROG) '$(DESTDIR)$(BINDIR)/git-worktree-ports'
	install -m 644 design/worktrees/ports.json.example '$(DESTDIR)$(DATADIR)/ports.json.example'
	install -d '$(DESTDIR)$(DATADIR)/hooks'
	install -m 755 hooks/post-checkout '$(DESTDIR)$(DATADIR)/hooks/post-checkout'
	install -m 644 docs/git-worktree-ports.1 '$(DESTDIR)$(MANDIR)/git-worktree-ports.1'

uninstall:
	rm -f '$(DESTDIR)$(BINDIR)/git-worktree-ports'
	rm -f '$(DESTDIR)$(DATADIR)/ports.json.example'
	rm -f '$(DESTDIR)$(DATADIR)/hooks/post-checkout'
	-rmdir '$(DESTDIR)$(DATADIR)/hooks' 2>/dev/null
	rm -f '$(DESTDIR)$(MANDIR)/git-worktree-ports.1'
	-rmdir '$(DESTDIR)$(DATADIR)' 2>/dev/null

# Build and test dependencies, from Debian's archive.
DEB_PACKAGES = build-essential pkg-config git libgit2-dev libjansson-dev \
	libinih-dev libcmocka-dev hyperfine time python3 iproute2 valgrind \
	docker-compose python3-dotenv clang strace tmux inotify-tools direnv pre-commit
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Hook managers the tests install into a repository, from the npm
# registry, pinned (tests/t/t0502-hook-managers.sh).
NPM_TOOLS = lefthook@2.2.1 husky@9.1.7

deps:
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(DEB_PACKAGES)
	$(MAKE) test-tools

# The npm ones go to $(BUILD)/npm, where the tests look first; without
# npm they are skipped, and the tests that need them say so. No install
# scripts: lefthook's would install its hooks into this very repository.
test-tools:
	@if command -v npm >/dev/null 2>&1; then \
		mkdir -p $(BUILD)/npm && \
		npm install --prefix $(BUILD)/npm --ignore-scripts --no-audit --no-fund -E $(NPM_TOOLS); \
	else \
		echo "npm not found: the hook manager tests will be skipped"; \
	fi

style:
	git clang-format --diff

clean:
	rm -rf build

.PHONY: all unit test-tool test-tools check check-valgrind check-unit check-integration bench install uninstall deps style clean FORCE
.SECONDARY:

-include $(LIB_OBJ:.o=.d) $(PROG_OBJ:.o=.d) $(UNIT_BIN:=.d) $(TEST_TOOL_OBJ:.o=.d)
