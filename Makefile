# BUS/RT reference implementation.
#   make deps     install the missing Debian packages the build and tests need
#   make          build every library and program into build/
#   make test     install missing Debian packages, build, run every test suite
#   make run      start the broker on $(RUN_ADDR) in the foreground
# Every test runs twice: a normal build, and one under ASan+UBSan.

CC      ?= gcc
B       := build
# The one version source: BUSRT_VERSION_STRING in ref/include/busrt/codes.h.
VERSION := $(shell sed -n 's/^\#define BUSRT_VERSION_STRING "\(.*\)"$$/\1/p' ref/include/busrt/codes.h)
WARN    := -std=c11 -Wall -Wextra -Werror -pedantic -Wshadow -Wconversion \
           -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2 -g
CPPFLAGS_ALL := -D_POSIX_C_SOURCE=200809L -Iref/include
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
RUN_ADDR ?= /tmp/busrt.sock

# The two build variants: normal objects in build/obj, sanitized in build/san.
VARIANTS := obj san
FLAGS_obj := $(CFLAGS)
FLAGS_san := -O1 -g $(SAN)

CORE_SRC   := ref/src/core/frame.c ref/src/core/match.c ref/src/core/utf8.c \
              ref/src/core/rpcproto.c ref/src/core/mpack.c ref/src/common/errstr.c
CORE_HDR   := $(wildcard ref/include/busrt/*.h) ref/src/core/le.h
# The broker: libbusrtd (every module but main.c; lib.c is the public API
# of busrt/busrtd.h) and busrtd (the same modules but lib.c, with main.c:
# what only a process does, signals, -D, the pid file, the descriptor
# limit, service manager notifications).
BROKER_SRC := $(filter-out ref/src/broker/lib.c,$(wildcard ref/src/broker/*.c))
LIBBUSRTD_SRC := $(filter-out ref/src/broker/main.c,$(wildcard ref/src/broker/*.c))
BROKER_HDR := $(wildcard ref/src/broker/*.h)
BROKER_LIBS := -lmsgpackc -ljansson -pthread
UNIT_TESTS := test_vectors test_core test_index test_acl test_timer test_ev test_router_oom test_cli_output \
              test_mem
# Broker modules a unit test links besides the core library.
UNIT_EXTRA_test_index := ref/src/broker/index.c ref/src/broker/bmap.c ref/src/broker/bhash.c \
                        ref/src/broker/mem.c
UNIT_EXTRA_test_core := ref/tests/model/model.c
UNIT_EXTRA_test_acl := ref/src/broker/acl.c
UNIT_EXTRA_test_timer := ref/src/broker/timer.c ref/src/broker/mem.c
UNIT_EXTRA_test_mem := ref/src/broker/mem.c
UNIT_EXTRA_test_ev := ref/src/broker/ev.c ref/src/broker/ev_select.c ref/src/broker/ev_poll.c \
                      ref/src/broker/ev_epoll.c ref/src/broker/mem.c
UNIT_EXTRA_test_router_oom := $(filter-out ref/src/broker/main.c,$(BROKER_SRC))
UNIT_EXTRA_test_cli_output := ref/src/cli/output.c
UNIT_LDFLAGS_test_cli_output := -lm
# Link flags of a unit test: test_router_oom makes chosen allocations fail.
UNIT_LDFLAGS_test_router_oom := -Wl,--wrap=malloc -Wl,--wrap=realloc $(BROKER_LIBS)
TEST_LIBS  := -lcmocka -ljansson -lmsgpackc

.PHONY: all test unit deps run clean vectors-check spec-check trace trace-update
.SECONDARY:
.DELETE_ON_ERROR:
.SECONDEXPANSION:
.DEFAULT_GOAL := all

all: $(foreach v,$(VARIANTS),$(B)/$(v)/libbusrtcore.a $(B)/$(v)/libbusrtd.a $(B)/$(v)/busrtd) \
     $(B)/busrtd \
     $(foreach v,$(VARIANTS),$(foreach t,$(UNIT_TESTS),$(B)/$(v)/tests/$(t)))

deps:
	@sh scripts/ensure-deps.sh

# One rule set per variant: objects, the core library, unit test binaries.
define variant_rules
$(B)/$(1)/%.o: %.c $(CORE_HDR) $(BROKER_HDR)
	@mkdir -p $$(@D)
	$$(CC) $(WARN) $(FLAGS_$(1)) $(CPPFLAGS_ALL) -c $$< -o $$@

$(B)/$(1)/libbusrtcore.a: $(CORE_SRC:%.c=$(B)/$(1)/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

# One object whose only global symbols are the public API (mk/libbusrtd.syms):
# the broker's modules do not clash with an application's names.
$(B)/$(1)/libbusrtd.a: $(LIBBUSRTD_SRC:%.c=$(B)/$(1)/%.o) mk/libbusrtd.syms
	@rm -f $$@
	ld -r -o $(B)/$(1)/libbusrtd.o $(LIBBUSRTD_SRC:%.c=$(B)/$(1)/%.o)
	objcopy --keep-global-symbols=mk/libbusrtd.syms $(B)/$(1)/libbusrtd.o
	ar rcs $$@ $(B)/$(1)/libbusrtd.o

# Every module with its names (but lib.c and main.c), for white-box tests.
$(B)/$(1)/libbusrtd-internal.a: $(patsubst %.c,$(B)/$(1)/%.o,$(filter-out ref/src/broker/main.c,$(BROKER_SRC)))
	@rm -f $$@
	ar rcs $$@ $$^

$(B)/$(1)/busrtd: $(BROKER_SRC:%.c=$(B)/$(1)/%.o) $(B)/$(1)/libbusrtcore.a
	$$(CC) $(FLAGS_$(1)) $$^ $(BROKER_LIBS) -o $$@

$(foreach t,$(UNIT_TESTS),$(B)/$(1)/tests/$(t)): $(B)/$(1)/tests/%: $(B)/$(1)/ref/tests/%.o \
    $$$$(addprefix $(B)/$(1)/,$$$$(UNIT_EXTRA_$$$$*:.c=.o)) $(B)/$(1)/libbusrtcore.a
	@mkdir -p $$(@D)
	$$(CC) $(FLAGS_$(1)) $$^ $(TEST_LIBS) $$(UNIT_LDFLAGS_$$*) -o $$@
endef
$(foreach v,$(VARIANTS),$(eval $(call variant_rules,$(v))))

# The programs users run are the normal (non-sanitized) builds.
$(B)/busrtd: $(B)/obj/busrtd
	cp $< $@

unit: all
	@set -e; for v in $(VARIANTS); do for t in $(UNIT_TESTS); do \
	  echo "== unit ($$v): $$t"; $(B)/$$v/tests/$$t; done; done

vectors-check:
	python3 spec/vectors/gen.py --check

# spec/busrt-v1.md against itself (definitions, Appendix B with its Level and
# Party columns, hex examples, lower-case keywords) and against every file
# citing a requirement id; then the checker's selftest on broken fixtures.
spec-check:
	python3 scripts/spec-check.py
	python3 scripts/spec-check.py --selftest

# Traceability: the evidence of every requirement (cases, vectors, tests,
# fuzz and proof files citing it) into $(B)/trace/trace.md and trace.json;
# fails when a MUST or MUST NOT has none and no exemption, on a stale
# exemption, or when the committed spec/trace.md differs (make trace-update).
trace:
	python3 scripts/trace.py --out $(B)/trace --check spec/trace.md

trace-update:
	python3 scripts/trace.py --out $(B)/trace --update spec/trace.md

# Suites run by `make test`, in order. Each fragment below appends its own
# targets to TEST_SUITES and its programs to ALL_EXTRA.
TEST_SUITES := vectors-check spec-check trace unit
ALL_EXTRA :=
-include ref/tests/integration/integration.mk
-include proofs/proofs.mk
-include ref/src/client/client.mk
-include ref/tests/embed/embed.mk
-include contrib/examples/examples.mk
-include fuzz/fuzz.mk
-include ref/tests/soak/soak.mk
-include ref/tests/faults/faults.mk
-include conformance/conformance.mk
-include bench/bench.mk
-include mk/install.mk

all: $(ALL_EXTRA)

# Each suite's time is printed after it and summed up at the end.
test: deps
	@set -e; t0=$$(date +%s); times=; for s in $(TEST_SUITES); do echo "==== make $$s"; \
	  t=$$(date +%s); $(MAKE) --no-print-directory $$s; \
	  times="$$times $$s=$$(( $$(date +%s) - t ))s"; echo "==== $$s: $$(( $$(date +%s) - t )) s"; \
	done; echo "make test: all suites passed in $$(( $$(date +%s) - t0 )) s:$$times"

run: $(B)/busrtd
	exec $(B)/busrtd -B $(RUN_ADDR)

clean:
	rm -rf $(B)
