# libbusrt (client library + RPC layer), the busrt CLI, and their tests.
#
# Included from the top Makefile, which provides B, CC, WARN, CPPFLAGS_ALL,
# FLAGS_obj, FLAGS_san, CORE_SRC, CORE_HDR and the pattern rule compiling
# $(B)/<variant>/%.o from %.c (variants obj and san).
#
#   build/obj/libbusrt.a, build/san/libbusrt.a   static (core included)
#   build/obj/libbusrt.so -> libbusrt.so.0 -> libbusrt.so.0.1.0
#                        shared, soname libbusrt.so.0, -fPIC objects in build/pic
#   build/busrt          the CLI (copy of build/obj/busrt)
#
#   make client-tests         every client suite (run by make test):
#     client-tests-obj        library tests, build/obj, against build/obj/busrtd
#     client-tests-san        library tests, build/san, against build/san/busrtd
#     client-tests-valgrind   build/obj library tests under valgrind
#     client-tests-cli        CLI end to end (build/busrt), plainly and under valgrind
#     client-tests-inproc     the library tests against an embedded broker
#                             (libbusrtd, BUSRT_TEST_INPROC=1): obj, san, valgrind
#   (one suite: BUSRTD=build/obj/busrtd build/obj/tests/test_client_lib)

CL_SRC_DIR  := ref/src/client
CLI_SRC_DIR := ref/src/cli
CT_DIR      := ref/tests/client

CLIENT_SRC  := $(addprefix $(CL_SRC_DIR)/,error.c ack.c receive.c transmit.c connect.c \
                 send_api.c net.c rpc.c cursor.c cursor_iter.c cursor_mp.c)
CLIENT_HDR  := $(CL_SRC_DIR)/client_int.h $(CL_SRC_DIR)/cursor_int.h ref/include/busrt/client.h \
               ref/include/busrt/rpc.h ref/include/busrt/cursor.h
CLI_SRC     := $(CLI_SRC_DIR)/main.c $(CLI_SRC_DIR)/params.c $(CLI_SRC_DIR)/output.c \
               $(CLI_SRC_DIR)/check.c $(CLI_SRC_DIR)/rpc.c \
               $(CLI_SRC_DIR)/bench.c
CLI_HDR     := $(CLI_SRC_DIR)/cli.h
CLI_LIBS    := -lmsgpackc -ljansson -lm -pthread
LIBBUSRT_SO_VERSION := $(VERSION)

CT_LIB_TESTS := test_client_lib test_client_fake test_client_rpc test_client_cursor
CT_HDR      := $(CT_DIR)/harness.h
CT_LIBS     := -lcmocka -pthread
CT_VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
# For the CLI a distinct status, so that a valgrind error can never pass for
# an expected exit status 1 of the tool.
CT_VALGRIND_CLI := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite

# The same library tests linked with libbusrtd and a harness built for the
# in-process mode (harness_inproc.o: harness.c with BUSRT_TH_INPROC).
CT_INPROC_TESTS := $(CT_LIB_TESTS:%=%_inproc)
CT_INPROC_LIBS := -lmsgpackc -ljansson

ALL_EXTRA += $(B)/obj/libbusrt.a $(B)/san/libbusrt.a $(B)/obj/libbusrt.so $(B)/busrt \
             $(foreach v,obj san,$(foreach t,$(CT_LIB_TESTS) $(CT_INPROC_TESTS),$(B)/$(v)/tests/$(t))) \
             $(B)/obj/tests/test_client_cli $(B)/obj/tests/test_client_so
TEST_SUITES += client-tests

.PHONY: client-tests client-tests-obj client-tests-san client-tests-valgrind client-tests-cli \
        client-tests-inproc client-bins

# Private headers: extra prerequisites of the objects the top rule builds.
$(foreach v,obj san pic,$(CLIENT_SRC:%.c=$(B)/$(v)/%.o)): $(CLIENT_HDR)
$(foreach v,obj san,$(CLI_SRC:%.c=$(B)/$(v)/%.o)): $(CLI_HDR) $(CLIENT_HDR)
$(foreach v,obj san,$(patsubst %.c,$(B)/$(v)/%.o,$(wildcard $(CT_DIR)/*.c))): $(CT_HDR) $(CLIENT_HDR)

# ---- Libraries ---------------------------------------------------------------

define client_lib_rules
$(B)/$(1)/libbusrt.a: $(CLIENT_SRC:%.c=$(B)/$(1)/%.o) $(CORE_SRC:%.c=$(B)/$(1)/%.o)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach v,obj san,$(eval $(call client_lib_rules,$(v))))

# Position-independent objects for the shared library (normal flags).
$(B)/pic/%.o: %.c $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(FLAGS_obj) -fPIC $(CPPFLAGS_ALL) -c $< -o $@

$(B)/obj/libbusrt.so.$(LIBBUSRT_SO_VERSION): $(CLIENT_SRC:%.c=$(B)/pic/%.o) $(CORE_SRC:%.c=$(B)/pic/%.o)
	$(CC) $(FLAGS_obj) -shared -Wl,-soname,libbusrt.so.0 -Wl,--no-undefined $^ -o $@

$(B)/obj/libbusrt.so.0: $(B)/obj/libbusrt.so.$(LIBBUSRT_SO_VERSION)
	ln -sf libbusrt.so.$(LIBBUSRT_SO_VERSION) $@

$(B)/obj/libbusrt.so: $(B)/obj/libbusrt.so.0
	ln -sf libbusrt.so.0 $@

# ---- CLI -----------------------------------------------------------------------

define client_cli_rules
$(B)/$(1)/busrt: $(CLI_SRC:%.c=$(B)/$(1)/%.o) $(B)/$(1)/libbusrt.a
	$$(CC) $(FLAGS_$(1)) $$^ $(CLI_LIBS) -o $$@
endef
$(foreach v,obj san,$(eval $(call client_cli_rules,$(v))))

$(B)/busrt: $(B)/obj/busrt
	cp $< $@

# ---- Tests ------------------------------------------------------------------------

define client_test_rules
$(B)/$(1)/tests/$(2): $(B)/$(1)/$(CT_DIR)/$(2).o $(B)/$(1)/$(CT_DIR)/harness.o $(B)/$(1)/libbusrt.a
	@mkdir -p $$(@D)
	$$(CC) $(FLAGS_$(1)) $$^ $(CT_LIBS) -o $$@
endef
$(foreach v,obj san,$(foreach t,$(CT_LIB_TESTS) test_client_cli,$(eval $(call client_test_rules,$(v),$(t)))))

define client_inproc_rules
$(B)/$(1)/$(CT_DIR)/harness_inproc.o: $(CT_DIR)/harness.c $(CT_HDR) $(CORE_HDR)
	@mkdir -p $$(@D)
	$$(CC) $(WARN) $(FLAGS_$(1)) $(CPPFLAGS_ALL) -DBUSRT_TH_INPROC -c $$< -o $$@

$(B)/$(1)/tests/%_inproc: $(B)/$(1)/$(CT_DIR)/%.o $(B)/$(1)/$(CT_DIR)/harness_inproc.o \
    $(B)/$(1)/libbusrtd.a $(B)/$(1)/libbusrt.a $(B)/$(1)/libbusrtcore.a
	@mkdir -p $$(@D)
	$$(CC) $(FLAGS_$(1)) $$^ $(CT_INPROC_LIBS) $(CT_LIBS) -o $$@
endef
$(foreach v,obj san,$(eval $(call client_inproc_rules,$(v))))

# The shared-library smoke test links with -lbusrt only (plus cmocka).
$(B)/obj/tests/test_client_so: $(B)/obj/$(CT_DIR)/test_client_so.o $(B)/obj/$(CT_DIR)/harness.o \
    $(B)/obj/libbusrt.so
	@mkdir -p $(@D)
	$(CC) $(FLAGS_obj) $(B)/obj/$(CT_DIR)/test_client_so.o $(B)/obj/$(CT_DIR)/harness.o \
	  -L$(B)/obj -lbusrt -Wl,-rpath,'$$ORIGIN/..' $(CT_LIBS) -o $@

client-bins: $(foreach v,obj san,$(foreach t,$(CT_LIB_TESTS) $(CT_INPROC_TESTS),$(B)/$(v)/tests/$(t))) \
    $(B)/obj/tests/test_client_cli $(B)/obj/tests/test_client_so $(B)/busrt \
    $(B)/obj/busrtd $(B)/san/busrtd

# $(call ct_run,LABEL,VARIANT,ENV,WRAPPER,TESTS)
ct_run = for t in $(5); do \
	  echo "== client ($(1)): $$t"; \
	  env $(3) $(4) $(B)/$(2)/tests/$$t || fail="$$fail $(1):$$t"; \
	done
ct_report = if [ -n "$$fail" ]; then echo "client-tests: FAILED:$$fail"; exit 1; fi; \
	echo "client-tests: all suites passed"

CT_ENV_obj := BUSRTD=$(B)/obj/busrtd
CT_ENV_san := BUSRTD=$(B)/san/busrtd
CT_ENV_vg  := BUSRTD=$(B)/obj/busrtd BUSRT_TEST_SLOW=1
CT_ENV_cli := BUSRTD=$(B)/obj/busrtd BUSRT_CLI=$(B)/busrt
CT_ENV_clivg := BUSRTD=$(B)/obj/busrtd BUSRT_CLI=$(B)/busrt BUSRT_TEST_SLOW=1 \
                BUSRT_CLI_WRAPPER="$(CT_VALGRIND_CLI)"

ct_obj = $(call ct_run,obj,obj,$(CT_ENV_obj),,$(CT_LIB_TESTS) test_client_so)
ct_san = $(call ct_run,san,san,$(CT_ENV_san),,$(CT_LIB_TESTS))
ct_vg  = $(call ct_run,valgrind,obj,$(CT_ENV_vg),$(CT_VALGRIND),$(CT_LIB_TESTS) test_client_so)
CT_ENV_in := BUSRT_TEST_INPROC=1
CT_ENV_invg := BUSRT_TEST_INPROC=1 BUSRT_TEST_SLOW=1
ct_inproc = $(call ct_run,inproc-obj,obj,$(CT_ENV_in),,$(CT_INPROC_TESTS)); \
	$(call ct_run,inproc-san,san,$(CT_ENV_in),,$(CT_INPROC_TESTS)); \
	$(call ct_run,inproc-valgrind,obj,$(CT_ENV_invg),$(CT_VALGRIND),$(CT_INPROC_TESTS))
ct_cli = $(call ct_run,cli,obj,$(CT_ENV_cli),,test_client_cli); \
	$(call ct_run,cli-valgrind,obj,$(CT_ENV_clivg),,test_client_cli)

client-tests: client-bins
	@fail=""; $(ct_obj); $(ct_san); $(ct_vg); $(ct_cli); $(ct_inproc); $(ct_report)

client-tests-obj: client-bins
	@fail=""; $(ct_obj); $(ct_report)

client-tests-san: client-bins
	@fail=""; $(ct_san); $(ct_report)

client-tests-valgrind: client-bins
	@fail=""; $(ct_vg); $(ct_report)

client-tests-cli: client-bins
	@fail=""; $(ct_cli); $(ct_report)

client-tests-inproc: client-bins
	@fail=""; $(ct_inproc); $(ct_report)
