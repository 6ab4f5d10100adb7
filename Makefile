# zap — build everything with `make`, test with `make test`.
# Targets: all deps test demo bench asan install clean (see README.md).

PREFIX ?= /usr/local
DESTDIR ?=
B := build

CC := gcc
MUSLCC := musl-gcc
# snprintf truncation is how we bound strings, so its warning stays off.
CFLAGS_COMMON := -std=gnu11 -g -O2 -Wall -Wextra -Werror -Wno-format-truncation -Iinclude -Ickpt -D_GNU_SOURCE
CFLAGS := $(CFLAGS_COMMON) -fPIC $(EXTRA_CFLAGS)
# The preload's checkpoint code runs in signal context on the program's
# stack and thread pointer; the restorer runs with no libc under it.
CKPT_CFLAGS := $(CFLAGS) -fno-stack-protector -fno-builtin-malloc -ffunction-sections -fdata-sections
MUSL_CFLAGS := $(CFLAGS_COMMON) -fPIE -fno-stack-protector -fno-builtin-malloc \
	-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=0
MUSL_DIR := /usr/lib/x86_64-linux-musl
RESTORER_BASE := 0x6a0000000000

CKPT_SRC := $(wildcard ckpt/*.c)
PRELOAD_SRC := $(wildcard preload/*.c)
# zapd: its main; the protocol (proto.c) it shares with zap, the event loop
# (netproxy/loop.c) with zap-proxy
ZAPD_SRC := launcher/zapd.c
LAUNCHER_SRC := $(filter-out launcher/restorer.c $(ZAPD_SRC),$(wildcard launcher/*.c))
NETPROXY_SRC := $(wildcard netproxy/*.c)

CKPT_OBJ := $(CKPT_SRC:%.c=$(B)/obj/%.o)
CKPT_MUSL_OBJ := $(CKPT_SRC:%.c=$(B)/musl/%.o)
PRELOAD_OBJ := $(PRELOAD_SRC:%.c=$(B)/obj/%.o)
LAUNCHER_OBJ := $(LAUNCHER_SRC:%.c=$(B)/obj/%.o)
ZAPD_OBJ := $(ZAPD_SRC:%.c=$(B)/obj/%.o) $(B)/obj/launcher/proto.o $(B)/obj/netproxy/loop.o
NETPROXY_OBJ := $(NETPROXY_SRC:%.c=$(B)/obj/%.o)

LIBCKPT := $(B)/lib/libzapckpt.a
PRELOAD := $(B)/lib/zap/libzappre.so
ZAP := $(B)/bin/zap
RESTORER := $(B)/bin/zap-restart
ZAPD := $(B)/bin/zapd
PROXY := $(B)/bin/zap-proxy
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))

all: deps-check $(PRELOAD) $(ZAP) $(RESTORER) $(ZAPD) $(PROXY) $(EXAMPLES) tests-build

# ---- dependencies: Debian packages, installed when we are root ----
deps-check:
	@sh tools/deps.sh

deps:
	@sh tools/deps.sh --install

bench-deps:
	@sh tools/deps.sh --bench

# ---- the pieces ----
$(B)/obj/%.o: %.c $(wildcard include/zap/*.h ckpt/*.h preload/*.h launcher/*.h netproxy/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(if $(filter ckpt/% preload/%,$<),$(CKPT_CFLAGS) -Ipreload,$(CFLAGS) -Ilauncher -Inetproxy) -c $< -o $@

$(B)/musl/%.o: %.c $(wildcard include/zap/*.h ckpt/*.h)
	@mkdir -p $(dir $@)
	$(MUSLCC) $(MUSL_CFLAGS) -c $< -o $@

$(LIBCKPT): $(CKPT_OBJ)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(PRELOAD): $(PRELOAD_OBJ) $(LIBCKPT) preload/exports.map
	@mkdir -p $(dir $@)
	$(CC) -shared -fvisibility=hidden -Wl,--version-script=preload/exports.map -Wl,-z,now \
		-Wl,--gc-sections -Wl,--no-undefined \
		-o $@ $(PRELOAD_OBJ) $(LIBCKPT) -ldl -lpthread

# libunwind: `zap inspect --stacks` unwinds the stacks stored in an image.
# Static: every checkpoint and restart starts this command, and dynamic
# linking (libunwind, liblzma) cost 1.3 ms of a 1 MiB checkpoint's ~9
# (bench/README.md).  Sanitizer builds link it dynamically.
ZAP_STATIC = $(if $(findstring sanitize,$(EXTRA_CFLAGS)),,-static)
$(ZAP): $(LAUNCHER_OBJ) $(LIBCKPT)
	@mkdir -p $(dir $@)
	$(CC) $(ZAP_STATIC) -o $@ $(LAUNCHER_OBJ) $(LIBCKPT) \
		$(shell pkg-config $(if $(ZAP_STATIC),--static) --libs libunwind-generic) $(LDFLAGS_EXTRA)

# The host agent (docs/zapd.md), static as zap is.
$(ZAPD): $(ZAPD_OBJ) $(LIBCKPT)
	@mkdir -p $(dir $@)
	$(CC) $(ZAP_STATIC) -o $@ $(ZAPD_OBJ) $(LIBCKPT) $(LDFLAGS_EXTRA)
# The connection keeper: one epoll loop, libc and the HMAC of ckpt/sha256.c.
$(PROXY): $(NETPROXY_OBJ) $(B)/obj/ckpt/sha256.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(NETPROXY_OBJ) $(B)/obj/ckpt/sha256.o

# The restorer: static musl, linked at a fixed address far from where
# programs live (docs/design-notes.md, "the restorer's address").
$(RESTORER): $(B)/musl/launcher/restorer.o $(CKPT_MUSL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -static -no-pie -nostdlib -Wl,-Ttext-segment=$(RESTORER_BASE) -Wl,--no-relax \
		-Wl,--defsym=_DYNAMIC=$(RESTORER_BASE) -o $@ \
		$(MUSL_DIR)/crt1.o $(MUSL_DIR)/crti.o $^ -L$(MUSL_DIR) -lc \
		$$($(CC) -print-libgcc-file-name) $(MUSL_DIR)/crtn.o

$(B)/musl/launcher/restorer.o: launcher/restorer.c $(wildcard include/zap/*.h ckpt/*.h)
	@mkdir -p $(dir $@)
	$(MUSLCC) $(MUSL_CFLAGS) -c $< -o $@

$(B)/examples/%: examples/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -g -O2 -Wall -Wextra -Werror -o $@ $< -lpthread -lm

-include tests/Makefile.inc

.PHONY: all deps deps-check bench-deps clean install test demo bench asan
clean:
	rm -rf $(B) build-asan

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/zap
	install -m 755 $(ZAP) $(RESTORER) $(ZAPD) $(PROXY) $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(PRELOAD) $(DESTDIR)$(PREFIX)/lib/zap/

demo: all
	@sh examples/demo.sh

bench: all
	@sh bench/run.sh
