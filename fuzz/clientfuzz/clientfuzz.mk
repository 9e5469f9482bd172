# busrt-clientfuzz (fuzz/clientfuzz/): a fake broker that fuzzes BUS/RT client
# libraries through a small adapter program (fuzz/clientfuzz/README.md).
# Included from fuzz/fuzz.mk (which defines NF_DIR).
#   make clientfuzz-smoke      (in make test) libbusrt through its adapter:
#                              CLIENTFUZZ_SMOKE_STREAMS streams of the plain build and
#                              CLIENTFUZZ_SAN_STREAMS of the ASan+UBSan build; 0 findings;
#                              then four bugs planted in the adapter must be found
#   make clientfuzz            CLIENTFUZZ_SECONDS against CLIENTFUZZ_CMD (default: the
#                              libbusrt adapter), seed CLIENTFUZZ_SEED, CLIENTFUZZ_ARGS

CF_DIR  := fuzz/clientfuzz
CF_SRC  := $(addprefix $(CF_DIR)/,main.c cf_vec.c cf_gen.c cf_run.c cf_case.c)
CF_OBJ  := $(patsubst %.c,$(B)/obj/%.o,$(CF_SRC))
CF_HDR  := $(CF_DIR)/cf.h $(NF_DIR)/nf.h $(CORE_HDR)
CF_ADAPTER := $(CF_DIR)/adapters/libbusrt_adapter.c

CLIENTFUZZ_SEED           ?= 1
CLIENTFUZZ_SECONDS        ?= 60
CLIENTFUZZ_SMOKE_STREAMS  ?= 2500
CLIENTFUZZ_SMOKE_SECONDS  ?= 36
CLIENTFUZZ_SAN_STREAMS    ?= 200
CLIENTFUZZ_SAN_SECONDS    ?= 10
CLIENTFUZZ_CMD            ?= $(B)/clientfuzz-libbusrt {addr}
CLIENTFUZZ_ARGS           ?=

ALL_EXTRA   += $(B)/busrt-clientfuzz $(B)/clientfuzz-libbusrt $(B)/san/clientfuzz-libbusrt
TEST_SUITES += clientfuzz-smoke

.PHONY: clientfuzz clientfuzz-smoke

$(CF_OBJ): $(B)/obj/%.o: %.c $(CF_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(FLAGS_obj) $(CPPFLAGS_ALL) -c $< -o $@

$(B)/busrt-clientfuzz: $(CF_OBJ) $(B)/obj/$(NF_DIR)/nf_util.o $(B)/obj/libbusrtcore.a
	$(CC) $(FLAGS_obj) $^ -ljansson -o $@

# The adapter, plain and with ASan+UBSan (objects from the top rules).
$(B)/clientfuzz-libbusrt: $(B)/obj/$(CF_ADAPTER:.c=.o) $(B)/obj/libbusrt.a
	$(CC) $(FLAGS_obj) $^ -o $@

$(B)/san/clientfuzz-libbusrt: $(B)/san/$(CF_ADAPTER:.c=.o) $(B)/san/libbusrt.a
	$(CC) $(FLAGS_san) $^ -o $@

clientfuzz-smoke: $(B)/busrt-clientfuzz $(B)/clientfuzz-libbusrt $(B)/san/clientfuzz-libbusrt
	$(B)/busrt-clientfuzz --cmd '$(B)/clientfuzz-libbusrt {addr}' --seed $(CLIENTFUZZ_SEED) \
	  --streams $(CLIENTFUZZ_SMOKE_STREAMS) --seconds $(CLIENTFUZZ_SMOKE_SECONDS) \
	  --out $(B)/clientfuzz/smoke
	$(B)/busrt-clientfuzz --cmd '$(B)/san/clientfuzz-libbusrt {addr}' --seed $(CLIENTFUZZ_SEED) \
	  --stream 100000 --streams $(CLIENTFUZZ_SAN_STREAMS) --seconds $(CLIENTFUZZ_SAN_SECONDS) \
	  --out $(B)/clientfuzz/smoke-san
	@mkdir -p $(B)/clientfuzz
	@$(call cf_plant,drop-empty,40,wrong frame\|stopped at)
	@$(call cf_plant,realtime,40,wrong frame (realtime))
	@$(call cf_plant,no-exit,5,REQ-ERR-6: no exit after the connection ended)
	@$(call cf_plant,spin,5,SPIN: busy after the connection ended)

# The oracle must find bugs planted in the adapter (CLIENTFUZZ_PLANT, see
# adapters/libbusrt_adapter.c): each run has to end with status 1 and name
# the finding expected.
cf_plant = $(B)/busrt-clientfuzz --cmd 'env CLIENTFUZZ_PLANT=$(1) $(B)/clientfuzz-libbusrt {addr}' \
	  --seed 2 --streams $(2) --exit-ms 300 --max-cases 1 --out $(B)/clientfuzz/plant-$(1) \
	  > $(B)/clientfuzz/plant-$(1).log 2>&1; rc=$$?; \
	if [ $$rc -ne 1 ] || ! grep -q '$(3)' $(B)/clientfuzz/plant-$(1).log; then \
	  tail -5 $(B)/clientfuzz/plant-$(1).log >&2; \
	  echo "clientfuzz-smoke: the planted bug $(1) was not found as [$(3)]" >&2; exit 1; fi; \
	echo "clientfuzz-smoke: planted bug $(1) found: $$(grep -c FINDING $(B)/clientfuzz/plant-$(1).log) findings"

clientfuzz: $(B)/busrt-clientfuzz $(B)/clientfuzz-libbusrt
	$(B)/busrt-clientfuzz --cmd '$(CLIENTFUZZ_CMD)' --seed $(CLIENTFUZZ_SEED) \
	  --seconds $(CLIENTFUZZ_SECONDS) --out $(B)/clientfuzz $(CLIENTFUZZ_ARGS)
