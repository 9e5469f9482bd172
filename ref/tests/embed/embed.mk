# Tests of the embeddable broker libbusrtd and its in-process clients.
#
# Included from the top Makefile (after ref/src/client/client.mk, which
# provides libbusrt, the client test harness and CT_VALGRIND).
#
#   make embed-tests   test_embed, test_embed_mixed, test_embed_wire:
#                      build/obj, build/san, and build/obj under valgrind

EMB_DIR   := ref/tests/embed
EMB_TESTS := test_embed test_embed_mixed test_embed_wire
EMB_HDR   := $(EMB_DIR)/embed_util.h ref/tests/client/harness.h ref/include/busrt/busrtd.h
EMB_LIBS  := -lcmocka -lmsgpackc -ljansson -pthread

ALL_EXTRA += $(foreach v,obj san,$(foreach t,$(EMB_TESTS),$(B)/$(v)/tests/$(t)))
TEST_SUITES += embed-tests

.PHONY: embed-tests embed-bins

$(foreach v,obj san,$(patsubst %.c,$(B)/$(v)/%.o,$(wildcard $(EMB_DIR)/*.c))): $(EMB_HDR)

# test_embed_wire compiles lib.c into itself and links the modules by name
# (libbusrtd-internal.a); the others use the library as applications do.
EMB_BROKER_test_embed_wire := libbusrtd-internal.a
define embed_test_rules
$(B)/$(1)/tests/$(2): $(B)/$(1)/$(EMB_DIR)/$(2).o $(B)/$(1)/$(EMB_DIR)/embed_util.o \
    $(B)/$(1)/ref/tests/client/harness.o \
    $(B)/$(1)/$(or $(EMB_BROKER_$(2)),libbusrtd.a) $(B)/$(1)/libbusrt.a $(B)/$(1)/libbusrtcore.a
	@mkdir -p $$(@D)
	$$(CC) $(FLAGS_$(1)) $$^ $(EMB_LIBS) -o $$@
endef
$(foreach v,obj san,$(foreach t,$(EMB_TESTS),$(eval $(call embed_test_rules,$(v),$(t)))))

embed-bins: $(foreach v,obj san,$(foreach t,$(EMB_TESTS),$(B)/$(v)/tests/$(t)))

embed-tests: embed-bins
	@fail=""; for t in $(EMB_TESTS); do \
	  echo "== embed (obj): $$t"; $(B)/obj/tests/$$t || fail="$$fail obj:$$t"; \
	  echo "== embed (san): $$t"; $(B)/san/tests/$$t || fail="$$fail san:$$t"; \
	  echo "== embed (valgrind): $$t"; BUSRT_TEST_SLOW=1 $(CT_VALGRIND) $(B)/obj/tests/$$t \
	    || fail="$$fail valgrind:$$t"; \
	done; \
	if [ -n "$$fail" ]; then echo "embed-tests: FAILED:$$fail"; exit 1; fi; \
	echo "embed-tests: all suites passed"
