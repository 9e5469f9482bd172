# The examples in contrib/examples/ (clients, and embedded.c with the broker
# inside): built against the tree and run
# against a spawned busrtd by `make examples-check` (in make test).
# Included from the top Makefile, which provides B and CC.

TEST_SUITES += examples-check
.PHONY: examples-check

examples-check: $(B)/obj/libbusrt.a $(B)/obj/libbusrt.so $(B)/obj/libbusrtd.a $(B)/obj/busrtd \
                $(B)/busrt
	CC='$(CC)' sh scripts/examples-check.sh $(B)
