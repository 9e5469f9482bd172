# Black-box integration tests of busrtd (ref/tests/integration/).
#
# Included from the top Makefile, which provides B, WARN, CPPFLAGS_ALL,
# FLAGS_obj, FLAGS_san, CORE_HDR and the pattern rule that compiles
# $(B)/<variant>/%.o from %.c. The fallbacks below only matter when this
# fragment is used on its own (make -f ref/tests/integration/integration.mk).
#
#   make integration             obj and san against every multiplexer backend
#                                (IT_IO), then obj under valgrind (default backend)
#   make integration-obj         build/obj tests against build/obj/busrtd, every backend
#   make integration-san         build/san tests against build/san/busrtd, every backend
#   make integration-valgrind    build/obj tests, busrtd under valgrind
#   IT_IO="poll"                 narrows the backends
#   (one suite: BUSRTD=build/obj/busrtd BUSRTD_ARGS="--io select" build/obj/tests/test_routing)
#
# test_notify also runs busrtd-hooks (BUSRTD_HOOKS), the broker with
# loop.c compiled with -DBUSRTD_TEST_HOOKS (SIGUSR2 stalls its loop): built
# here, per variant, for the tests only; $(B)/busrtd and make install never
# have the hooks.

B            ?= build
CC           ?= gcc
WARN         ?= -std=c11 -Wall -Wextra -Werror -pedantic -Wshadow -Wconversion \
                -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS_ALL ?= -D_POSIX_C_SOURCE=200809L -Iref/include
BROKER_SRC   ?= $(wildcard ref/src/broker/*.c)
BROKER_HDR   ?= $(wildcard ref/src/broker/*.h)
BROKER_LIBS  ?= -lmsgpackc -ljansson
FLAGS_obj    ?= -O2 -g
FLAGS_san    ?= -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer

IT_DIR            := ref/tests/integration
IT_VARIANTS       := obj san
INTEGRATION_TESTS := test_handshake test_routing test_malformed test_timeouts test_access \
                     test_limits test_lifecycle test_notify test_realtime
IT_HDR            := $(IT_DIR)/wire.h $(IT_DIR)/itest.h
IT_LIBS           := -lcmocka
IT_VALGRIND       := valgrind -q --error-exitcode=99 --leak-check=full \
                     --errors-for-leak-kinds=definite
IT_IO             ?= epoll poll select
IT_BINS           := $(foreach v,$(IT_VARIANTS),$(foreach t,$(INTEGRATION_TESTS),$(B)/$(v)/tests/$(t)))
# The broker modules compiled differently in busrtd-hooks.
IT_HOOKED         := ref/src/broker/loop.c
IT_HOOKS_BINS     := $(foreach v,$(IT_VARIANTS),$(B)/$(v)/busrtd-hooks)

.PHONY: integration integration-obj integration-san integration-valgrind integration-bins

# Hooks of the top Makefile: `make` builds the test programs, `make test`
# runs the `integration` suite.
TEST_SUITES += integration
ALL_EXTRA   += $(IT_BINS) $(IT_HOOKS_BINS)

integration-bins: $(IT_BINS) $(IT_HOOKS_BINS)

# Objects: compiled here (same flags as the top Makefile's pattern rule) so
# that the fragment also works alone; they depend on the shared headers.
define it_variant_rules
$(B)/$(1)/$(IT_DIR)/%.o: $(IT_DIR)/%.c $(IT_HDR) $(CORE_HDR)
	@mkdir -p $$(@D)
	$$(CC) $$(WARN) $$(FLAGS_$(1)) $$(CPPFLAGS_ALL) -c $$< -o $$@
endef
$(foreach v,$(IT_VARIANTS),$(eval $(call it_variant_rules,$(v))))

# busrtd-hooks: the variant's broker objects, IT_HOOKED ones recompiled
# with -DBUSRTD_TEST_HOOKS under $(B)/<variant>/hooks/.
define it_hooks_rules
$(B)/$(1)/hooks/%.o: %.c $(CORE_HDR) $(BROKER_HDR)
	@mkdir -p $$(@D)
	$$(CC) $$(WARN) $$(FLAGS_$(1)) $$(CPPFLAGS_ALL) -DBUSRTD_TEST_HOOKS -c $$< -o $$@

$(B)/$(1)/busrtd-hooks: $(filter-out $(IT_HOOKED:%.c=$(B)/$(1)/%.o),$(BROKER_SRC:%.c=$(B)/$(1)/%.o)) \
    $(IT_HOOKED:%.c=$(B)/$(1)/hooks/%.o) $(B)/$(1)/libbusrtcore.a
	$$(CC) $$(FLAGS_$(1)) $$^ $(BROKER_LIBS) -o $$@
endef
$(foreach v,$(IT_VARIANTS),$(eval $(call it_hooks_rules,$(v))))

# Explicit per-binary rules (they win over any generic tests/% pattern rule).
define it_bin_rule
$(B)/$(1)/tests/$(2): $(B)/$(1)/$(IT_DIR)/$(2).o $(B)/$(1)/$(IT_DIR)/wire.o $(B)/$(1)/libbusrtcore.a
	@mkdir -p $$(@D)
	$$(CC) $$(FLAGS_$(1)) $$^ $(IT_LIBS) -o $$@
endef
$(foreach v,$(IT_VARIANTS),$(foreach t,$(INTEGRATION_TESTS),$(eval $(call it_bin_rule,$(v),$(t)))))

# $(call it_run,LABEL,VARIANT,ENVIRONMENT): runs every suite, collecting
# failures in the shell variable fail.
it_run = for t in $(INTEGRATION_TESTS); do \
	  echo "== integration ($(1)): $$t"; \
	  env $(3) $(B)/$(2)/tests/$$t || fail="$$fail $(1):$$t"; \
	done
# The same once per backend of IT_IO (BUSRTD_ARGS="--io BACKEND").
it_run_io = for io in $(IT_IO); do \
	  $(call it_run,$(1)/$$io,$(2),$(3) BUSRTD_ARGS="--io $$io"); \
	done

IT_ENV_obj      := BUSRTD=$(B)/obj/busrtd BUSRTD_HOOKS=$(B)/obj/busrtd-hooks
IT_ENV_san      := BUSRTD=$(B)/san/busrtd BUSRTD_HOOKS=$(B)/san/busrtd-hooks
IT_ENV_valgrind := BUSRTD=$(B)/obj/busrtd BUSRTD_HOOKS=$(B)/obj/busrtd-hooks \
                   BUSRTD_WRAPPER="$(IT_VALGRIND)" BUSRT_TEST_UNDER_VALGRIND=1

it_report = if [ -n "$$fail" ]; then echo "integration: FAILED:$$fail"; exit 1; fi; \
	echo "integration: all suites passed"

integration: $(IT_BINS) $(IT_HOOKS_BINS) $(B)/obj/busrtd $(B)/san/busrtd
	@fail=""; \
	$(call it_run_io,obj,obj,$(IT_ENV_obj)); \
	$(call it_run_io,san,san,$(IT_ENV_san)); \
	$(call it_run,valgrind,obj,$(IT_ENV_valgrind)); \
	$(it_report)

integration-obj: $(foreach t,$(INTEGRATION_TESTS),$(B)/obj/tests/$(t)) $(B)/obj/busrtd \
                 $(B)/obj/busrtd-hooks
	@fail=""; $(call it_run_io,obj,obj,$(IT_ENV_obj)); $(it_report)

integration-san: $(foreach t,$(INTEGRATION_TESTS),$(B)/san/tests/$(t)) $(B)/san/busrtd \
                 $(B)/san/busrtd-hooks
	@fail=""; $(call it_run_io,san,san,$(IT_ENV_san)); $(it_report)

integration-valgrind: $(foreach t,$(INTEGRATION_TESTS),$(B)/obj/tests/$(t)) $(B)/obj/busrtd \
                      $(B)/obj/busrtd-hooks
	@fail=""; $(call it_run,valgrind,obj,$(IT_ENV_valgrind)); $(it_report)
