# In-process fuzzing harnesses (fuzz/), each built for libFuzzer and AFL++;
# the network fuzzer for any broker (fuzz/netfuzz/, build/busrt-netfuzz); the
# third-party differential kit (fuzz/kit/). Commands: fuzz/README.md.
#   make fuzz-smoke              every harness for a short fixed time (in make test)
#   make fuzz FUZZ_SECONDS=600   long runs; corpora kept in build/fuzz/corpus/
#     FUZZ_RUNS=10000000          ... each libFuzzer harness stops after that many
#                                 executions, or FUZZ_SECONDS, whichever first
#     FUZZ_MAX_LEN=512            ... inputs of at most 512 bytes
#   make fuzz-coverage           line/branch coverage of ref/src/core from the corpora
#   make netfuzz                 the network fuzzer alone (NETFUZZ_SECONDS, NETFUZZ_SEED,
#                                NETFUZZ_TARGET=ADDR for a running broker, NETFUZZ_ARGS)
#   make fuzz-kit KIT_IMPL='your.c ...'   the kit against another implementation
#   make kit-pipe-smoke          the kit's pipe mode (build/kit-diff) against the Python
#                                example, and its planted bug (in make test)
#   make clientfuzz-smoke, make clientfuzz   the client fuzzer (fuzz/clientfuzz/clientfuzz.mk)

FUZZ_HARNESSES := client_frame frame_header handshake rpc encode mpack match utf8 conn broker cli
FZ             := $(B)/fuzz
FUZZ_SECONDS   ?= 60
FUZZ_RUNS      ?=
FUZZ_MAX_LEN   ?=
SMOKE_SECONDS  ?= 12
AFL_SMOKE_SECONDS ?= 8
FUZZ_CFLAGS    := -g -O1 -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L \
                  -Iref/include -fno-sanitize-recover=all
FUZZ_BROKER    := $(filter-out ref/src/broker/main.c,$(BROKER_SRC))
FUZZ_MODEL     := ref/tests/model/model.c
# Sources each harness needs besides its own file and the core.
FUZZ_EXTRA_conn   := $(FUZZ_BROKER)
FUZZ_EXTRA_broker := $(FUZZ_BROKER) $(FUZZ_MODEL)
FUZZ_EXTRA_handshake := $(FUZZ_MODEL)
FUZZ_EXTRA_match  := $(FUZZ_MODEL)
FUZZ_EXTRA_utf8   := $(FUZZ_MODEL)
FUZZ_EXTRA_cli    := ref/src/cli/params.c ref/src/cli/output.c
FUZZ_LIBS_cli     := -lmsgpackc -ljansson -lm
FUZZ_LIBS_mpack   := -lmsgpackc
FUZZ_LIBS_conn    := -lmsgpackc -ljansson
FUZZ_LIBS_broker  := -lmsgpackc -ljansson
# The dictionary of each harness (fuzz/dict/NAME.dict), as a shell case.
fuzz_dict = $$(case $(1) in rpc) echo rpc;; match|broker) echo match;; utf8) echo utf8;; cli) echo cli;; mpack) echo mpack;; *) echo frame;; esac)
FUZZ_DEPS := $(CORE_SRC) $(CORE_HDR) $(BROKER_SRC) $(BROKER_HDR) $(FUZZ_MODEL) fuzz/fuzz.h \
             $(FUZZ_EXTRA_cli) ref/src/cli/cli.h

# ---- Network fuzzer: build/busrt-netfuzz (fuzz/netfuzz/) --------------------
# Random mode against a spawned broker (NETFUZZ_BROKER on a temporary UNIX
# socket) or, with NETFUZZ_TARGET=ADDR, against a broker already running.
NF_DIR      := fuzz/netfuzz
NF_SRC      := $(NF_DIR)/nf_util.c $(NF_DIR)/nf_net.c $(NF_DIR)/nf_model.c \
               $(NF_DIR)/nf_session.c $(NF_DIR)/nf_recv.c $(NF_DIR)/nf_send.c \
               $(NF_DIR)/nf_gen.c $(NF_DIR)/nf_reg.c $(NF_DIR)/nf_act.c $(NF_DIR)/nf_settle.c \
               $(NF_DIR)/nf_case.c $(NF_DIR)/nf_minimize.c
NF_HDR      := $(NF_DIR)/nf.h $(NF_DIR)/nf_sess_int.h ref/tests/model/model.h $(CORE_HDR)
NF_OBJ      := $(patsubst %.c,$(B)/obj/%.o,$(NF_SRC) $(NF_DIR)/main.c)
NETFUZZ_SECONDS       ?= 60
NETFUZZ_SMOKE_SECONDS ?= 30
NETFUZZ_SEED          ?= 1
NETFUZZ_BROKER        ?= $(B)/obj/busrtd
NETFUZZ_BODY_LIMIT    ?= 100000
NETFUZZ_TARGET        ?=
NETFUZZ_ARGS          ?=
ifeq ($(strip $(NETFUZZ_TARGET)),)
NETFUZZ_BROKER_ARGS = --spawn '$(NETFUZZ_BROKER) -B {addr} --payload-size-limit $(NETFUZZ_BODY_LIMIT)' \
                      --body-limit $(NETFUZZ_BODY_LIMIT)
NETFUZZ_BROKER_DEP  = $(NETFUZZ_BROKER)
else
NETFUZZ_BROKER_ARGS = --target '$(NETFUZZ_TARGET)'
NETFUZZ_BROKER_DEP  =
endif
netfuzz_run = $(B)/busrt-netfuzz $(NETFUZZ_BROKER_ARGS) --seed $(NETFUZZ_SEED) \
              --seconds $(1) --progress 1000 --out $(B)/netfuzz $(NETFUZZ_ARGS)

# ---- Third-party kit (fuzz/kit/) ---------------------------------------------
# The worked example builds with fuzz/run.sh's layout under $(KF): lf/, afl/,
# cov/, seeds/example, corpus/example, crashes/. `make fuzz-kit` builds
# kit_diff.c against KIT_IMPL (your adapter and sources; KIT_CFLAGS and
# KIT_LIBS for the rest) and runs it KIT_SECONDS under libFuzzer.
KF       := $(FZ)/kit
KIT_DIR  := fuzz/kit
KIT_DICT := ../kit/kit
KIT_SRC  := $(KIT_DIR)/kit_diff.c $(CORE_SRC)
KIT_DEPS := $(KIT_SRC) $(KIT_DIR)/busrt_kit.h $(CORE_HDR)
KIT_EXAMPLE := $(KIT_DIR)/example/example_impl.c
KIT_SMOKE_SECONDS     ?= 12
KIT_AFL_SMOKE_SECONDS ?= 5
KIT_SECONDS ?= 300
KIT_IMPL    ?= $(KIT_EXAMPLE)
KIT_CFLAGS  ?= -g -O1
KIT_LIBS    ?=

ALL_EXTRA += $(foreach h,$(FUZZ_HARNESSES),$(FZ)/lf/fuzz_$(h))
ALL_EXTRA += $(B)/busrt-netfuzz $(FZ)/lf/fuzz_net $(KF)/lf/fuzz_example
TEST_SUITES += fuzz-smoke netfuzz-minimize-check

.PHONY: fuzz fuzz-smoke fuzz-coverage fuzz-build fuzz-seeds

define fuzz_rules
$(FZ)/lf/fuzz_$(1): fuzz/fuzz_$(1).c $(FUZZ_DEPS)
	@mkdir -p $$(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $$< $(CORE_SRC) \
	  $(FUZZ_EXTRA_$(1)) $(FUZZ_LIBS_$(1)) -o $$@

$(FZ)/afl/fuzz_$(1): fuzz/fuzz_$(1).c $(FUZZ_DEPS)
	@mkdir -p $$(@D)
	AFL_QUIET=1 AFL_USE_ASAN=1 AFL_USE_UBSAN=1 afl-clang-fast $(FUZZ_CFLAGS) -fsanitize=fuzzer \
	  $$< $(CORE_SRC) $(FUZZ_EXTRA_$(1)) $(FUZZ_LIBS_$(1)) -o $$@

$(FZ)/cov/fuzz_$(1): fuzz/fuzz_$(1).c $(FUZZ_DEPS)
	@mkdir -p $$(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
	  $$< $(CORE_SRC) $(FUZZ_EXTRA_$(1)) $(FUZZ_LIBS_$(1)) -o $$@
endef
$(foreach h,$(FUZZ_HARNESSES),$(eval $(call fuzz_rules,$(h))))

fuzz-build: $(foreach h,$(FUZZ_HARNESSES),$(FZ)/lf/fuzz_$(h) $(FZ)/afl/fuzz_$(h)) \
            $(B)/busrt-netfuzz $(FZ)/lf/fuzz_net $(KF)/lf/fuzz_example $(KF)/afl/fuzz_example

$(FZ)/seeds/.stamp: fuzz/seeds.py $(wildcard spec/vectors/*.json)
	@rm -rf $(FZ)/seeds
	python3 fuzz/seeds.py spec/vectors $(FZ)/seeds
	@touch $@

fuzz-seeds: $(FZ)/seeds/.stamp

# fuzz/run.sh fails on any crash, leak, sanitizer report or oracle violation;
# busrt-netfuzz exits 1 on any violation (or a broker crash or non-zero exit).
fuzz-smoke: fuzz-build fuzz-seeds $(KF)/seeds/.stamp $(NETFUZZ_BROKER_DEP)
	@set -e; for h in $(FUZZ_HARNESSES); do \
	  FUZZ_RUNS= FUZZ_MAX_LEN= sh fuzz/run.sh libfuzzer $$h $(SMOKE_SECONDS) $(call fuzz_dict,$$h) $(FZ); done; \
	for h in $(FUZZ_HARNESSES); do \
	  sh fuzz/run.sh afl $$h $(AFL_SMOKE_SECONDS) $(call fuzz_dict,$$h) $(FZ); done; \
	sh fuzz/run.sh libfuzzer example $(KIT_SMOKE_SECONDS) $(KIT_DICT) $(KF); \
	sh fuzz/run.sh afl example $(KIT_AFL_SMOKE_SECONDS) $(KIT_DICT) $(KF); \
	$(call netfuzz_run,$(NETFUZZ_SMOKE_SECONDS))

fuzz: fuzz-build fuzz-seeds $(KF)/seeds/.stamp $(NETFUZZ_BROKER_DEP)
	@set -e; for h in $(FUZZ_HARNESSES); do \
	  FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_MAX_LEN=$(FUZZ_MAX_LEN) sh fuzz/run.sh libfuzzer $$h $(FUZZ_SECONDS) $(call fuzz_dict,$$h) $(FZ); done; \
	sh fuzz/run.sh libfuzzer example $(FUZZ_SECONDS) $(KIT_DICT) $(KF); \
	sh $(NF_DIR)/run-lf.sh $(FUZZ_SECONDS) $(NETFUZZ_BROKER) $(NETFUZZ_BODY_LIMIT) $(FZ); \
	$(call netfuzz_run,$(FUZZ_SECONDS))

# Coverage of the core from the saved corpora and seeds (run `make fuzz` first
# for meaningful corpora).
# The kit harness (reference side) counts too.
fuzz-coverage: fuzz-seeds $(KF)/seeds/.stamp $(foreach h,$(FUZZ_HARNESSES),$(FZ)/cov/fuzz_$(h)) \
               $(KF)/cov/fuzz_example
	@rm -rf $(FZ)/profraw && mkdir -p $(FZ)/profraw
	@for h in $(FUZZ_HARNESSES); do mkdir -p $(FZ)/corpus/$$h; \
	  LLVM_PROFILE_FILE=$(FZ)/profraw/$$h.profraw ./$(FZ)/cov/fuzz_$$h -runs=0 \
	    $(FZ)/corpus/$$h $(FZ)/seeds/$$h > /dev/null 2>&1 || exit 1; done
	@mkdir -p $(KF)/corpus/example && LLVM_PROFILE_FILE=$(FZ)/profraw/kit.profraw \
	  ./$(KF)/cov/fuzz_example -runs=0 $(KF)/corpus/example $(KF)/seeds/example > /dev/null 2>&1
	llvm-profdata-14 merge -sparse $(FZ)/profraw/*.profraw -o $(FZ)/core.profdata
	llvm-cov-14 report $(FZ)/cov/fuzz_conn $(foreach h,$(filter-out conn,$(FUZZ_HARNESSES)),-object $(FZ)/cov/fuzz_$(h)) \
	  -object $(KF)/cov/fuzz_example \
	  -instr-profile=$(FZ)/core.profdata $(filter ref/src/core/%,$(CORE_SRC)) | tee $(FZ)/coverage.txt

# ---- Network fuzzer and kit: rules --------------------------------------------
.PHONY: netfuzz netfuzz-minimize-check fuzz-kit

$(NF_OBJ): $(B)/obj/%.o: %.c $(NF_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(FLAGS_obj) $(CPPFLAGS_ALL) -c $< -o $@

$(B)/busrt-netfuzz: $(NF_OBJ) $(B)/obj/ref/tests/model/model.o $(B)/obj/libbusrtcore.a
	$(CC) $(FLAGS_obj) $^ -o $@

# The same sessions as a libFuzzer harness; needs BUSRT_NETFUZZ_TARGET.
$(FZ)/lf/fuzz_net: $(NF_DIR)/fuzz_net.c $(NF_SRC) $(NF_HDR) $(FUZZ_MODEL) $(CORE_SRC)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(NF_SRC) $(FUZZ_MODEL) \
	  $(CORE_SRC) -o $@

netfuzz: $(B)/busrt-netfuzz $(NETFUZZ_BROKER_DEP)
	$(call netfuzz_run,$(NETFUZZ_SECONDS))

# --minimize against busrtd with planted bugs (fuzz/netfuzz/minimize-test.sh):
# each violation must shrink, and its minimized case must fail with the bug
# and pass without it. About a minute.
NETFUZZ_MINIMIZE_SECONDS ?= 40
netfuzz-minimize-check: $(B)/busrt-netfuzz $(B)/obj/busrtd $(B)/busrt-conformance
	sh $(NF_DIR)/minimize-test.sh $(B)/busrt-netfuzz $(B)/obj/busrtd \
	  $(B)/busrt-conformance $(B)/netfuzz-minimize $(NETFUZZ_MINIMIZE_SECONDS)

$(KF)/lf/fuzz_example: $(KIT_DEPS) $(KIT_EXAMPLE)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -I$(KIT_DIR) -fsanitize=fuzzer,address,undefined $(KIT_SRC) \
	  $(KIT_EXAMPLE) -o $@

$(KF)/afl/fuzz_example: $(KIT_DEPS) $(KIT_EXAMPLE)
	@mkdir -p $(@D)
	AFL_QUIET=1 AFL_USE_ASAN=1 AFL_USE_UBSAN=1 afl-clang-fast $(FUZZ_CFLAGS) -I$(KIT_DIR) \
	  -fsanitize=fuzzer $(KIT_SRC) $(KIT_EXAMPLE) -o $@

$(KF)/cov/fuzz_example: $(KIT_DEPS) $(KIT_EXAMPLE)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -I$(KIT_DIR) -fsanitize=fuzzer -fprofile-instr-generate \
	  -fcoverage-mapping $(KIT_SRC) $(KIT_EXAMPLE) -o $@

# ---- The kit's pipe mode: any language (fuzz/README.md, "Pipe protocol") ----
# build/kit-diff runs kit_diff.c against a command answering the pipe
# protocol, in batches; $(KF)/lf/fuzz_kit_pipe is the same under libFuzzer
# (--pipe=CMD). kit-pipe-smoke (in make test) runs the Python example
# KIT_PIPE_SMOKE_SECONDS, then checks that its planted bug is found.
KIT_PIPE_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(KIT_DIR)/kit_pipe_main.c $(KIT_DIR)/kit_pipe.c \
                $(KIT_DIR)/kit_diff.c)
KIT_PIPE_EXAMPLE := python3 $(KIT_DIR)/example/python/kit_frames.py
KIT_PIPE_SMOKE_SECONDS ?= 3
ALL_EXTRA   += $(B)/kit-diff $(KF)/lf/fuzz_kit_pipe
TEST_SUITES += kit-pipe-smoke
.PHONY: kit-pipe-smoke

$(KIT_PIPE_OBJ): $(KIT_DIR)/busrt_kit.h $(KIT_DIR)/kit_pipe.h

$(B)/kit-diff: $(KIT_PIPE_OBJ) $(B)/obj/libbusrtcore.a
	$(CC) $(FLAGS_obj) $^ -o $@

$(KF)/lf/fuzz_kit_pipe: $(KIT_DEPS) $(KIT_DIR)/kit_pipe.c $(KIT_DIR)/kit_pipe_lf.c $(KIT_DIR)/kit_pipe.h
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -I$(KIT_DIR) -fsanitize=fuzzer,address,undefined $(KIT_SRC) \
	  $(KIT_DIR)/kit_pipe.c $(KIT_DIR)/kit_pipe_lf.c -o $@

kit-pipe-smoke: $(B)/kit-diff $(KF)/seeds/.stamp
	$(B)/kit-diff --pipe '$(KIT_PIPE_EXAMPLE)' --seeds $(KF)/seeds/example \
	  --seconds $(KIT_PIPE_SMOKE_SECONDS)
	@if KIT_EXAMPLE_BUG=1 $(B)/kit-diff --pipe '$(KIT_PIPE_EXAMPLE)' --seeds $(KF)/seeds/example \
	    --seconds 5 > $(KF)/pipe-bug.log 2>&1; then \
	  echo "kit-pipe-smoke: the planted bug of the example was not found" >&2; exit 1; fi; \
	grep -q 'DIFFERENCE in kit_frame_header_decode' $(KF)/pipe-bug.log || \
	  { cat $(KF)/pipe-bug.log >&2; echo "kit-pipe-smoke: no difference reported" >&2; exit 1; }
	@echo "kit-pipe-smoke: the planted bug was found"

$(KF)/seeds/.stamp: $(KIT_DIR)/kit_seeds.py $(wildcard spec/vectors/*.json)
	@rm -rf $(KF)/seeds
	python3 $(KIT_DIR)/kit_seeds.py spec/vectors $(KF)/seeds/example
	@touch $@

fuzz-kit: $(KF)/seeds/.stamp
	@mkdir -p $(KF)/custom $(KF)/corpus/custom $(KF)/crashes
	clang $(KIT_CFLAGS) -Iref/include -I$(KIT_DIR) -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all $(KIT_SRC) $(KIT_IMPL) $(KIT_LIBS) -o $(KF)/custom/fuzz_kit
	./$(KF)/custom/fuzz_kit -max_total_time=$(KIT_SECONDS) -print_final_stats=1 \
	  -dict=$(KIT_DIR)/kit.dict -artifact_prefix=$(KF)/crashes/custom- \
	  $(KF)/corpus/custom $(KF)/seeds/example

# The client fuzzer has its own fragment.
-include fuzz/clientfuzz/clientfuzz.mk
