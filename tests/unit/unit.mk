# Unit tests (Check): one tests/unit/test-<module>.c per ckpt module, each
# registering its suite with ZT_SUITE (tests/unit/unit.h), so a new file is
# picked up here and in test-main.c without an edit.
#   make unit-build   builds $(B)/tests/unit/zap-unit
#   make unit-test    runs it (CK_FORK=no, CK_RUN_SUITE=image, CK_VERBOSITY=verbose work)
#   make asan         the library, the unit tests and zap with ASan+UBSan in build-asan/, then runs the tests

UNIT_SRC := $(wildcard tests/unit/*.c)
# launcher/sysv.c (test-sysv.c), launcher/proto.c (test-proto.c) and
# netproxy/loop.c (test-loop.c) have no home in libzapckpt.a: linked in too
UNIT_OBJ := $(UNIT_SRC:%.c=$(B)/obj/%.o) $(B)/obj/launcher/sysv.o $(B)/obj/launcher/proto.o \
	$(B)/obj/netproxy/loop.o
UNIT_BIN := $(B)/tests/unit/zap-unit
CHECK_CFLAGS := $(shell pkg-config --cflags check)
CHECK_LIBS := $(shell pkg-config --libs check)

# More specific than the generic object rule, so make prefers it.
$(B)/obj/tests/unit/%.o: tests/unit/%.c $(wildcard tests/unit/*.h include/zap/*.h ckpt/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -Itests/unit -Ilauncher -Inetproxy -c $< -o $@

$(UNIT_BIN): $(UNIT_OBJ) $(LIBCKPT)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(UNIT_OBJ) $(LIBCKPT) $(CHECK_LIBS) $(LDFLAGS_EXTRA)

unit-build: $(UNIT_BIN)

unit-test: $(UNIT_BIN)
	$(UNIT_BIN)

# Sanitized build: its own tree, so it never mixes objects with build/.
# Every sanitizer report is fatal (no recovery), so a report fails a test.
ASAN_B := build-asan
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

asan:
	$(MAKE) B=$(ASAN_B) EXTRA_CFLAGS="$(ASAN_FLAGS)" LDFLAGS_EXTRA="$(ASAN_FLAGS)" \
		unit-build $(ASAN_B)/bin/zap
	$(ASAN_B)/tests/unit/zap-unit

.PHONY: unit-build unit-test asan
