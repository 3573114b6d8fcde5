# d2rt build. GNU make, C11.
#   make            build/d2rt (CLI) and build/libd2rt.a
#   make test       unit tests, op tests, CLI tests, ONNX node conformance, e2e suites
#   make fuzz       libFuzzer builds of tests/fuzz/* (clang) into build-fuzz/
#   make SAN=1      ASan + UBSan build (into build-san/)
#   make DEBUG=1    IR verifier after every pass, assertions on (into build-debug/)
#   make CUDA=1     also build backends/cuda/*.cu with nvcc (none written yet)
#   make deps       install missing Debian packages (root) or print the apt-get line

CC      ?= cc
BUILD   ?= build
ifeq ($(SAN),1)
BUILD   := build-san
endif
ifeq ($(DEBUG),1)
BUILD   := build-debug
endif
ifeq ($(FUZZ),1)
BUILD   := build-fuzz
CC      := clang
endif

WARN    := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 \
           -Wundef -Wpointer-arith -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 $(WARN) -MMD -MP -pthread \
           -I. -Iinclude -I$(BUILD)/gen
LDLIBS  := -lprotobuf-c -lxxhash -ljpeg -lpng -lz -lm -pthread
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(DEBUG),1)
CFLAGS  += -DD2_DEBUG_VERIFY=1
endif
ifeq ($(FUZZ),1)
# Library instrumented for libFuzzer; each tests/fuzz/<name>.c links into build-fuzz/<name>.
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
endif

# ---- sources: every .c under these directories is part of the library ------
LIB_DIRS := ir frontend passes backends/cpu backends/registry.c runtime
LIB_SRCS := $(shell find $(LIB_DIRS) -name '*.c' -not -path 'runtime/cli/*' 2>/dev/null | sort)
CLI_SRCS := $(shell find runtime/cli -name '*.c' 2>/dev/null | sort)
PROTOS   := $(shell find frontend -name '*.proto' 2>/dev/null | sort)
PROTO_C  := $(patsubst %.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H  := $(PROTO_C:.c=.h)

# Kernels and shape functions are found through weak references (ir/shape.c,
# backends/cpu/ref_table.c), which do not pull objects out of an archive: link it whole.
LIB_LINK := -Wl,--whole-archive $(BUILD)/libd2rt.a -Wl,--no-whole-archive

LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(PROTO_C:.c=.o)
CLI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRCS))

TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRCS))
TEST_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)

# ---- CUDA (optional) ---------------------------------------------------------
NVCC      ?= nvcc
CUDA_SRCS := $(shell find backends/cuda -name '*.cu' 2>/dev/null | sort)
CUDA_OBJS := $(patsubst %.cu,$(BUILD)/obj/%.o,$(CUDA_SRCS))
ifeq ($(CUDA),1)
CFLAGS    += -DD2RT_CUDA=1
LIB_OBJS  += $(CUDA_OBJS)
LDLIBS    += -L/usr/local/cuda/lib64 -lcudart -lcudnn
endif

.PHONY: all deps test unit-tests op-tests cli-tests onnx-node-tests clean
all: $(BUILD)/d2rt $(BUILD)/libd2rt.a

deps:
	@tools/deps.sh

$(BUILD)/libd2rt.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/d2rt: $(CLI_OBJS) $(BUILD)/libd2rt.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIB_LINK) $(LDLIBS)

# Generated protobuf-c code (from the project's own .proto files). Kept after the build
# (.SECONDARY), else make deletes them as intermediates and every later build
# regenerates them and recompiles whatever includes them.
.SECONDARY: $(PROTO_C) $(PROTO_H)
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: %.proto | deps-check
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen $<

$(BUILD)/obj/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# Library objects may include generated headers: make them first.
$(BUILD)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# Per-ISA kernel tables (backends/cpu/fast.h): each is built for its own instruction
# set and chosen at run time by cpuid (or D2RT_CPU).
$(BUILD)/obj/backends/cpu/kernels_generic.o: CFLAGS += -O3
$(BUILD)/obj/backends/cpu/kernels_avx2.o: CFLAGS += -O3 -mavx2 -mfma
$(BUILD)/obj/backends/cpu/kernels_avx512.o: CFLAGS += -O3 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) -O2 -I. -Iinclude -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libd2rt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< $(LIB_LINK) $(LDLIBS) $(TEST_LIBS)

# Small C programs the test scripts use (tensor comparison, detection matching).
$(BUILD)/tests/tools/%: tests/tools/%.c $(BUILD)/libd2rt.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< $(LIB_LINK) $(LDLIBS)

# Fuzz targets (clang + libFuzzer): `make fuzz` builds build-fuzz/fuzz_<name>;
# run one with e.g. `build-fuzz/fuzz_onnx -max_total_time=60 CORPUS_DIR`.
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRCS))
.PHONY: fuzz
fuzz:
	$(MAKE) FUZZ=1 $(FUZZ_BINS)

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/libd2rt.a
	$(CC) $(CFLAGS) -Wno-missing-prototypes -fsanitize=fuzzer,address,undefined -o $@ $< \
	    $(LIB_LINK) $(LDLIBS)

.PHONY: deps-check
deps-check:
	@tools/deps.sh --quiet

# ---- tests -------------------------------------------------------------------
test: all $(TEST_BINS) $(TOOL_BINS)
	@tools/run_tests.sh $(BUILD)

unit-tests: $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; $$t; done

clean:
	rm -rf build build-san build-debug

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)
