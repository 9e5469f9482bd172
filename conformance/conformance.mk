# The BUS/RT v1 conformance suite (conformance/): the runner
# build/busrt-conformance and the targets that run it.
#
# Included from the top Makefile (-include conformance/conformance.mk), which
# provides B, WARN, CPPFLAGS_ALL, FLAGS_obj, FLAGS_san and the rules for
# $(B)/<variant>/libbusrtcore.a and $(B)/obj/busrtd. The fallbacks below only
# matter when this fragment is used on its own.
#
#   make conformance                  spawn build/obj/busrtd (-t $(CF_T)), run every case,
#                                     once per multiplexer backend (CF_IO="epoll poll select")
#   make conformance TARGET=ADDR      run every case against the broker at ADDR
#                                     (UNIX path or HOST:PORT; pass CF_T=<its timeout>)
#   make conformance-check            the coverage self-check (no broker needed)
#   make conformance-san              the runner built with ASan+UBSan, against busrtd
#   make conformance-valgrind         the runner under valgrind, against busrtd
#   CF_ARGS='--case topic.*' narrows a run; CF_ARGS='--junit f.xml --json f.json' adds reports

B            ?= build
CC           ?= gcc
WARN         ?= -std=c11 -Wall -Wextra -Werror -pedantic -Wshadow -Wconversion \
                -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS_ALL ?= -D_POSIX_C_SOURCE=200809L -Iref/include
FLAGS_obj    ?= -O2 -g
FLAGS_san    ?= -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer

CF_DIR    := conformance
CF_SRC    := $(wildcard $(CF_DIR)/runner/*.c)
CF_HDR    := $(wildcard $(CF_DIR)/runner/*.h) $(wildcard ref/include/busrt/*.h)
CF_LIBS   := -ljansson -lmsgpackc -lm
CF_T      ?= 2
TARGET    ?=
CF_ARGS   ?=
CF_VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full \
               --errors-for-leak-kinds=definite

# How the case options map to options of the reference broker.
CF_SPAWN_OPTS := \
  --spawn-opt queue_size='--queue-size {}' \
  --spawn-opt payload_size_limit='--payload-size-limit {}' \
  --spawn-opt max_clients='--max-clients {}' \
  --spawn-opt max_subscriptions='--max-subscriptions {}' \
  --spawn-opt max_exclusions='--max-exclusions {}' \
  --spawn-opt max_name_len='--max-name-len {}' \
  --spawn-opt force_register='--force-register' \
  --spawn-opt fifo='-B fifo:{}' \
  --spawn-opt extra_listener='-B {}' \
  --spawn-opt acl='--acl {}' --reload-signal HUP

# Known deviations of the reference broker from spec/busrt-v1.md (none at
# present). Listed cases are reported as xfail and do not fail `make
# conformance`; a listed case that passes (xpass) does. Used only when the
# suite spawns busrtd, never with TARGET=.
CF_XFAIL :=

CF_COMMON := --timeout-s $(CF_T) --spec spec/busrt-v1.md --cases $(CF_DIR)/cases \
             --exemptions $(CF_DIR)/exemptions.json

CF_IO ?= epoll poll select

# The shell loops over CF_IO with $$io; with TARGET= it runs once.
ifeq ($(strip $(TARGET)),)
CF_BROKER = --spawn '$(B)/obj/busrtd --io '$$io' -B {addr} -t $(CF_T)' $(CF_SPAWN_OPTS) \
            $(foreach c,$(CF_XFAIL),--xfail $(c))
CF_BROKER_DEP = $(B)/obj/busrtd
CF_LOOP = $(CF_IO)
else
CF_BROKER = --target '$(TARGET)'
CF_BROKER_DEP =
CF_LOOP = target
endif
# $(call cf_run,RUNNER): the runner once per backend; fails when any run did.
cf_run = @fail=""; for io in $(CF_LOOP); do \
	  echo "== conformance ($$io)"; \
	  $(1) $(CF_BROKER) $(CF_COMMON) $(CF_ARGS) || fail="$$fail $$io"; \
	done; \
	if [ -n "$$fail" ]; then echo "conformance: FAILED with:$$fail"; exit 1; fi

ALL_EXTRA   += $(B)/busrt-conformance $(B)/san/busrt-conformance
TEST_SUITES += conformance-check conformance-selftest conformance

.PHONY: conformance conformance-check conformance-selftest conformance-san conformance-valgrind

define cf_variant_rules
$(B)/$(1)/$(CF_DIR)/runner/%.o: $(CF_DIR)/runner/%.c $(CF_HDR)
	@mkdir -p $$(@D)
	$$(CC) $$(WARN) $$(FLAGS_$(1)) $$(CPPFLAGS_ALL) -c $$< -o $$@

$(B)/$(1)/busrt-conformance: $(CF_SRC:%.c=$(B)/$(1)/%.o) $(B)/$(1)/libbusrtcore.a
	$$(CC) $$(FLAGS_$(1)) $$^ $(CF_LIBS) -o $$@
endef
$(foreach v,obj san,$(eval $(call cf_variant_rules,$(v))))

$(B)/busrt-conformance: $(B)/obj/busrt-conformance
	cp $< $@

# The coverage check also parses the expectation files of other brokers
# (conformance/deviations/): an entry that matches no case fails it.
conformance-check: $(B)/busrt-conformance
	$(B)/busrt-conformance --check-coverage $(CF_COMMON) \
	  $(foreach f,$(wildcard $(CF_DIR)/deviations/*.xfail),--xfail-file $(f))

# The runner's own tests: known-failure lists against a spawned busrtd.
conformance-selftest: $(B)/busrt-conformance $(B)/obj/busrtd
	sh $(CF_DIR)/selftest/run.sh $(B)/busrt-conformance $(B)/obj/busrtd

conformance: $(B)/busrt-conformance $(CF_BROKER_DEP)
	$(call cf_run,$(B)/busrt-conformance)

conformance-san: $(B)/san/busrt-conformance $(CF_BROKER_DEP)
	$(call cf_run,$(B)/san/busrt-conformance)

conformance-valgrind: $(B)/obj/busrt-conformance $(CF_BROKER_DEP)
	$(call cf_run,$(CF_VALGRIND) $(B)/obj/busrt-conformance)
