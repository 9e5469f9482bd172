# Formal verification of the pure core (ref/src/core): Frama-C WP proofs,
# Frama-C Eva, and the MISRA C:2012 check. See proofs/README.md.
#
# Included from the top Makefile, which provides B (the build directory)
# and WARN (the compiler warning flags). The fallbacks below only matter
# when this fragment is used on its own (make -f proofs/proofs.mk proofs).
#
#   make proofs          WP over ref/src/core + proofs/roundtrip.c; fails
#                        unless every goal is proved and the total is at
#                        least the one recorded in proofs/goals.txt
#   make proofs-fresh    the same from an empty proof cache (as CI does)
#   make proofs-update   re-record proofs/goals.txt from a fully proved run
#   make proofs-broker   WP over the broker's outq.c and bmap.c, under the
#                        allocator contracts of proofs/mem_spec.h; fails on
#                        any unproved goal or a count below the record
#                        proofs/goals-broker.txt (WP_FRESH=1: empty cache)
#   make proofs-broker-update  re-record proofs/goals-broker.txt
#   make eva             Eva on proofs/eva_driver.c; fails on any alarm
#   make eva-broker      Eva over the broker's frame path (small bounds, the
#                        CI form); fails when it does not complete in 150 s,
#                        when its alarms exceed proofs/eva-alarms.txt, or
#                        when a key function is not reached
#   make eva-full        the same with larger bounds (not in make test)
#   make eva-scenes      Eva over a script of frames from two registered
#                        clients (every operation, one state); fails as
#                        make eva-broker does
#   make misra           cppcheck MISRA C:2012: ref/src/core strictly
#                        (proofs/misra-suppressions.txt), the rest of
#                        ref/src against the per-rule counts of
#                        proofs/misra-deviations.md
# Tools (Debian 12): frama-c-base, why3, cvc4, z3, cppcheck; `make deps`
# installs them.

B    ?= build
WARN ?= -std=c11 -Wall -Wextra -Werror -pedantic -Wshadow -Wconversion \
        -Wstrict-prototypes -Wmissing-prototypes

.PHONY: proofs proofs-fresh proofs-update proofs-broker proofs-broker-update \
        proofs-clean proofs-check-c eva eva-core-full eva-broker eva-full eva-scenes misra

# Hook of the top Makefile: `make test` runs these suites.
TEST_SUITES += proofs proofs-broker misra eva eva-broker eva-scenes

# proofs/roundtrip.c is proof-only code; keep it warning-free C anyway.
proofs-check-c:
	$(CC) $(WARN) -Iref/include -Iref/src/core -fsyntax-only proofs/roundtrip.c

proofs: proofs-check-c
	@sh proofs/wp.sh $(B)

proofs-fresh: proofs-check-c
	@WP_FRESH=1 sh proofs/wp.sh $(B)

proofs-update: proofs-check-c
	@sh proofs/wp.sh --update $(B)

proofs-broker:
	@sh proofs/wp.sh --broker $(B)

proofs-broker-update:
	@sh proofs/wp.sh --update --broker $(B)

proofs-clean:
	rm -rf $(B)/wp $(B)/wp-broker

eva:
	@sh proofs/eva.sh $(B)

# The core's complete form: the bounds make eva used before 2026-12-03.
eva-core-full:
	@EVA_BOUNDS="-DEVA_INPUT_MAX=32u -DEVA_NAME_MAX=6u -DEVA_PAT_MAX=3u -DEVA_BODY_MAX=6u \
	  -DEVA_MSG_MAX=10u" sh proofs/eva.sh $(B)

eva-broker:
	@sh proofs/eva-broker.sh ci $(B)

eva-full:
	@sh proofs/eva-broker.sh full $(B)

# The scripted form (two registered clients, every operation).
eva-scenes:
	@sh proofs/eva-broker.sh scenes $(B)

misra:
	@sh proofs/misra.sh $(B)
