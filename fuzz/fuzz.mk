# In-process fuzzing harnesses (fuzz/), each built for libFuzzer and AFL++.
#   make fuzz-smoke              every harness for a short fixed time (in make test)
#   make fuzz FUZZ_SECONDS=600   long runs; corpora kept in build/fuzz/corpus/
#   make fuzz-coverage           line/branch coverage of ref/src/core from the corpora

FUZZ_HARNESSES := client_frame frame_header handshake rpc match utf8 conn broker
FZ             := $(B)/fuzz
FUZZ_SECONDS   ?= 60
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
FUZZ_LIBS_conn    := -lmsgpackc -ljansson
FUZZ_LIBS_broker  := -lmsgpackc -ljansson
# The dictionary of each harness (fuzz/dict/NAME.dict), as a shell case.
fuzz_dict = $$(case $(1) in rpc) echo rpc;; match|broker) echo match;; utf8) echo utf8;; *) echo frame;; esac)
FUZZ_DEPS := $(CORE_SRC) $(CORE_HDR) $(BROKER_SRC) $(BROKER_HDR) $(FUZZ_MODEL) fuzz/fuzz.h

ALL_EXTRA += $(foreach h,$(FUZZ_HARNESSES),$(FZ)/lf/fuzz_$(h))
TEST_SUITES += fuzz-smoke

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

fuzz-build: $(foreach h,$(FUZZ_HARNESSES),$(FZ)/lf/fuzz_$(h) $(FZ)/afl/fuzz_$(h))

$(FZ)/seeds/.stamp: fuzz/seeds.py $(wildcard spec/vectors/*.json)
	@rm -rf $(FZ)/seeds
	python3 fuzz/seeds.py spec/vectors $(FZ)/seeds
	@touch $@

fuzz-seeds: $(FZ)/seeds/.stamp

# fuzz/run.sh fails on any crash, leak, sanitizer report or oracle violation.
fuzz-smoke: fuzz-build fuzz-seeds
	@set -e; for h in $(FUZZ_HARNESSES); do \
	  sh fuzz/run.sh libfuzzer $$h $(SMOKE_SECONDS) $(call fuzz_dict,$$h) $(FZ); done; \
	for h in $(FUZZ_HARNESSES); do \
	  sh fuzz/run.sh afl $$h $(AFL_SMOKE_SECONDS) $(call fuzz_dict,$$h) $(FZ); done

fuzz: fuzz-build fuzz-seeds
	@set -e; for h in $(FUZZ_HARNESSES); do \
	  sh fuzz/run.sh libfuzzer $$h $(FUZZ_SECONDS) $(call fuzz_dict,$$h) $(FZ); done

# Coverage of the core from the saved corpora and seeds (run `make fuzz` first
# for meaningful corpora).
fuzz-coverage: fuzz-seeds $(foreach h,$(FUZZ_HARNESSES),$(FZ)/cov/fuzz_$(h))
	@rm -rf $(FZ)/profraw && mkdir -p $(FZ)/profraw
	@for h in $(FUZZ_HARNESSES); do mkdir -p $(FZ)/corpus/$$h; \
	  LLVM_PROFILE_FILE=$(FZ)/profraw/$$h.profraw ./$(FZ)/cov/fuzz_$$h -runs=0 \
	    $(FZ)/corpus/$$h $(FZ)/seeds/$$h > /dev/null 2>&1 || exit 1; done
	llvm-profdata-14 merge -sparse $(FZ)/profraw/*.profraw -o $(FZ)/core.profdata
	llvm-cov-14 report $(FZ)/cov/fuzz_conn $(foreach h,$(filter-out conn,$(FUZZ_HARNESSES)),-object $(FZ)/cov/fuzz_$(h)) \
	  -instr-profile=$(FZ)/core.profdata $(filter ref/src/core/%,$(CORE_SRC)) | tee $(FZ)/coverage.txt
