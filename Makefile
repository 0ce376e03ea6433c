# cairn — build, test, demo. `make` builds build/libcairn.a, build/libcairn.so and build/cairn.
#   make demo    installs Debian packages (idempotent), builds, ingests docs/, searches
#   make test    installs packages, builds, runs every test, then again under ASan+UBSan
#   make SAN=1   builds with AddressSanitizer + UndefinedBehaviorSanitizer into build-san/
#   make bench   runs the benchmarks in bench/ (see bench/README.md)
#   make fuzz    runs the libFuzzer targets of tests/fuzz/ (SECONDS=60 each by default)
#
# Sources are found by wildcard: a new file under src/<module>/ or tests/unit/test_*.c is
# built without editing this file.

CC      ?= cc
SAN     ?= 0
OPT     ?= -O2
ifeq ($(SAN),1)
BUILD   ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      = -O1 -g
else
BUILD   ?= build
SANFLAGS =
endif

PKGS     = sqlite3 libutf8proc md4c libxml-2.0 jansson openblas libcurl libpcre2-8 libsodium libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS  += -std=c17 $(OPT) -g $(WARN) $(SANFLAGS) -fPIC -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE \
           -Iinclude -Isrc $(PKG_CFLAGS)
LDLIBS   = $(PKG_LIBS) -lstemmer -lm -lpthread
LDFLAGS += $(SANFLAGS)

LIB_SRC  := $(sort $(wildcard src/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC  := $(sort $(wildcard apps/cli/*.c apps/server/*.c))
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_SUPPORT := $(filter-out $(TEST_SRC),$(wildcard tests/unit/*.c))
TEST_SUPPORT_OBJ := $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)

.PHONY: all deps demo test test-unit bench clean fuzz
# Keep the test objects (make would delete them as intermediates and rebuild every time).
.SECONDARY:

all: $(BUILD)/cairn $(BUILD)/libcairn.so $(TEST_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libcairn.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libcairn.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/cairn: $(CLI_OBJ) $(BUILD)/libcairn.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_SUPPORT_OBJ) $(BUILD)/libcairn.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

deps:
	@scripts/install-deps.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh

# The whole suite: unit tests, end-to-end CLI tests, then everything again under sanitizers.
test: deps
	$(MAKE) all
	tests/run.sh $(BUILD)
	$(MAKE) SAN=1 all
	tests/run.sh build-san

test-unit: all
	tests/run.sh $(BUILD) unit

bench: deps all
	bench/run.sh

# libFuzzer runs of every parser (needs clang; tests/fuzz/README.md). SECONDS per target.
fuzz:
	tests/fuzz/run.sh $(SECONDS)

clean:
	rm -rf build build-san

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:$(BUILD)/tests/%=$(BUILD)/obj/tests/unit/%.d)
