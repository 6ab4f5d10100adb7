# Fuzzing the image reader (tests/fuzz/fuzz-image.c).  The reader and its
# helpers are compiled here, with the sanitizers, rather than taken from
# $(LIBCKPT), so that what the fuzzer exercises is instrumented.
#   make fuzz-smoke       gcc, ASan+UBSan, a fixed seed, FUZZ_ITERS programs (< 30 s)
#   make fuzz-libfuzzer   clang -fsanitize=fuzzer; FUZZ_LF_ARGS go to libFuzzer

FUZZ_SRC := tests/fuzz/fuzz-image.c tests/unit/sample-image.c ckpt/image.c ckpt/util.c
FUZZ_DEPS := $(FUZZ_SRC) $(wildcard include/zap/*.h ckpt/*.h tests/unit/*.h)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := $(CFLAGS_COMMON) -O1 -Itests/unit
FUZZ_BIN := $(B)/tests/fuzz/fuzz-image
FUZZ_ITERS ?= 20000
FUZZ_SEED ?= 0x7a617066757a7a31

$(FUZZ_BIN): $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -DFUZZ_STANDALONE -o $@ $(FUZZ_SRC)

fuzz-smoke: $(FUZZ_BIN)
	$(FUZZ_BIN) $(FUZZ_ITERS) $(FUZZ_SEED)

FUZZ_CLANG := $(shell command -v clang 2>/dev/null)
FUZZ_LF_BIN := $(B)/tests/fuzz/fuzz-image-libfuzzer
# (clang has no -Wformat-truncation, which CFLAGS_COMMON turns off)
FUZZ_LF_CORPUS := $(B)/tests/fuzz/corpus
FUZZ_LF_ARGS ?= -runs=200000 -max_total_time=60 -seed=1

ifeq ($(FUZZ_CLANG),)
fuzz-libfuzzer:
	@echo "fuzz-libfuzzer: clang is not installed; nothing built (apt-get install clang)"
else
$(FUZZ_LF_BIN): $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CLANG) $(FUZZ_CFLAGS) -Wno-unknown-warning-option -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $(FUZZ_SRC)

fuzz-libfuzzer: $(FUZZ_LF_BIN)
	@mkdir -p $(FUZZ_LF_CORPUS)
	$(FUZZ_LF_BIN) $(FUZZ_LF_ARGS) $(FUZZ_LF_CORPUS)
endif

.PHONY: fuzz-smoke fuzz-libfuzzer
