# Soak test of busrtd (ref/tests/soak/): many clients for a long time, some
# of them hostile; see ref/tests/soak/README.md.
#
# Included from the top Makefile, which provides B, CC, WARN, CPPFLAGS_ALL,
# FLAGS_obj, CORE_HDR and the rules for build/obj/busrtd, libbusrtcore.a and
# (through integration.mk) wire.o.
#
#   make soak            10 minutes, 200 clients (not part of make test)
#   make soak-short      60 s, 200 clients (make test)
#   make soak-valgrind   40 s, 60 clients, busrtd under valgrind (make test)
#   make soak-alloc      30 s with --memory-limit 64M --preallocate and 4
#                        flooders (--hostile 4, so the budget is reached):
#                        the C library's allocator is called 0 times between
#                        ready and shutdown (counted by alloccount.so), then
#                        15 s without --preallocate, its count printed
#                        (make test)
#   make soak-memory     1000 clients plus 20 flooders and 10 announcers with
#                        30000-byte names, 60 s under --memory-limit 64M, then
#                        the same with --preallocate (not part of make test)
#   SOAK_SEED=N          seed of the client behaviour (default 1)
#   SOAK_ARGS="..."      extra options for build/obj/tests/soak (see soak.c)
# The broker's log of each run is kept in build/soak/<target>.log.

SOAK_DIR      := ref/tests/soak
SOAK_BIN      := $(B)/obj/tests/soak
# the program to run: ./build/obj/tests/soak, or as given for an absolute B
SOAK_RUN      := $(if $(filter /%,$(B)),,./)$(SOAK_BIN)
SOAK_SEED     ?= 1
SOAK_ARGS     ?=
SOAK_VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full \
                 --errors-for-leak-kinds=definite

.PHONY: soak soak-short soak-valgrind soak-alloc soak-memory

TEST_SUITES += soak-short soak-valgrind soak-alloc
ALL_EXTRA   += $(SOAK_BIN) $(SOAK_ALLOC_SO)

# the LD_PRELOAD allocator-call counter of soak-alloc
SOAK_ALLOC_SO := $(B)/soak/alloccount.so
SOAK_ALLOC_OUT = $(abspath $(B))/soak/alloc-$(1).txt

$(B)/obj/$(SOAK_DIR)/%.o: $(SOAK_DIR)/%.c ref/tests/integration/wire.h \
                          ref/src/common/procinfo.h $(CORE_HDR)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(FLAGS_obj) $(CPPFLAGS_ALL) -Iref/tests/integration -c $< -o $@

# procinfo.o: the broker's RSS and descriptors, shared with busrt-bench
$(B)/obj/ref/src/common/procinfo.o: ref/src/common/procinfo.h

$(SOAK_BIN): $(B)/obj/$(SOAK_DIR)/soak.o $(B)/obj/ref/tests/integration/wire.o \
             $(B)/obj/ref/src/common/procinfo.o $(B)/obj/libbusrtcore.a
	@mkdir -p $(@D)
	$(CC) $(FLAGS_obj) $^ -o $@

# $(call soak_run,LABEL,ENVIRONMENT,OPTIONS)
soak_run = @mkdir -p $(B)/soak && echo "== soak: $(1)" && \
	env BUSRTD=$(B)/obj/busrtd $(2) $(SOAK_RUN) --label $(1) --seed $(SOAK_SEED) \
	    --keep-log $(B)/soak/$(1).log $(3) $(SOAK_ARGS)

soak: $(SOAK_BIN) $(B)/obj/busrtd
	$(call soak_run,soak,,--duration 600)

soak-short: $(SOAK_BIN) $(B)/obj/busrtd
	$(call soak_run,soak-short,,--duration 60)

# Under valgrind the broker runs ~20x slower: fewer clients, lower rates, a
# smaller queue so that slow consumers still overflow within seconds.
soak-valgrind: $(SOAK_BIN) $(B)/obj/busrtd
	$(call soak_run,soak-valgrind,BUSRTD_WRAPPER="$(SOAK_VALGRIND)" \
	    BUSRT_TEST_UNDER_VALGRIND=1,--duration 40 --clients 60 --rate 2 --busy-rate 40 \
	    --queue-size 128)

$(SOAK_ALLOC_SO): $(SOAK_DIR)/alloccount.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(FLAGS_obj) -fPIC -shared $(CPPFLAGS_ALL) $< -o $@

# $(call soak_alloc_run,LABEL,BROKER OPTIONS,SOAK OPTIONS)
soak_alloc_run = $(call soak_run,$(1),BUSRTD_WRAPPER="env LD_PRELOAD=$(abspath $(SOAK_ALLOC_SO)) \
	BUSRT_ALLOC_COUNT=$(call SOAK_ALLOC_OUT,$(1))" BUSRTD_ARGS="$(2)",\
	--alloc-count $(call SOAK_ALLOC_OUT,$(1)) $(3))

# With --preallocate not one call of the C library's allocator between the
# broker's ready point and its shutdown, under the soak's whole load; the
# same load without it, for comparison (the count is printed, not checked).
soak-alloc: $(SOAK_BIN) $(B)/obj/busrtd $(SOAK_ALLOC_SO)
	$(call soak_alloc_run,soak-alloc-prealloc,--memory-limit 64M --preallocate,--duration 30 \
	    --hostile 4 --memory-limit 67108864 --alloc-max 0)
	$(call soak_alloc_run,soak-alloc-malloc,--memory-limit 64M,--duration 15)

# Hostile load within a 64 MiB budget: well-behaved clients lose nothing,
# the broker's memory high-water (logged at shutdown) stays within it.
SOAK_MEMORY = --duration 60 --clients 1000 --hostile 20 --memory-limit 67108864
soak-memory: $(SOAK_BIN) $(B)/obj/busrtd
	$(call soak_run,soak-memory,BUSRTD_ARGS="--memory-limit 64M",$(SOAK_MEMORY))
	$(call soak_run,soak-memory-prealloc,BUSRTD_ARGS="--memory-limit 64M --preallocate",\
	    $(SOAK_MEMORY))
