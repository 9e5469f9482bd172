# busrt-bench (bench/): latency, throughput, fan-out and scale of BUS/RT v1
# brokers, each figure beside a floor measured in the same run.
#   make bench         full run against $(B)/obj/busrtd (spawned); the table,
#                      CSV, JSON and chart go to $(B)/bench/
#   make bench-smoke   builds it and runs a ~10 s quick run that must finish
#                      with every measurement complete and nothing lost (in
#                      make test). Timing goals are never pass/fail.
# BENCH_ARGS adds options, e.g. make bench BENCH_ARGS='--target other=/tmp/b.sock'.

BENCH_SRC    := bench/main.c bench/conn.c bench/ctl.c bench/peer.c bench/report.c \
                bench/util.c bench/affinity.c
BENCH_OBJ    := $(BENCH_SRC:%.c=$(B)/obj/%.o)
BENCH_OUT    := $(B)/bench
BENCH_BROKER ?= $(B)/obj/busrtd
BENCH_ARGS   ?=

ALL_EXTRA   += $(B)/busrt-bench
TEST_SUITES += bench-smoke

.PHONY: bench bench-smoke

# Objects come from the obj variant's pattern rule (WARN, CFLAGS, CPPFLAGS_ALL).
$(BENCH_OBJ): bench/bench.h

$(B)/busrt-bench: $(BENCH_OBJ) $(B)/obj/libbusrtcore.a
	$(CC) $(FLAGS_obj) $^ -lm -o $@

bench: $(B)/busrt-bench $(BENCH_BROKER)
	@mkdir -p $(BENCH_OUT)
	@command -v gnuplot >/dev/null 2>&1 || { echo "bench: installing gnuplot-nox for the chart"; \
	  apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null 2>&1 || \
	  echo "bench: gnuplot unavailable; the chart is skipped"; }
	@rm -f $(BENCH_OUT)/broker.log
	@rc=0; ./$(B)/busrt-bench --spawn 'busrtd=$(BENCH_BROKER) -B {addr}' \
	  --broker-log $(BENCH_OUT)/broker.log --csv $(BENCH_OUT)/bench.csv \
	  --json $(BENCH_OUT)/bench.json \
	  $$(command -v gnuplot >/dev/null 2>&1 && echo --plot $(BENCH_OUT)/bench.png) \
	  $(BENCH_ARGS) > $(BENCH_OUT)/results.txt || rc=$$?; \
	cat $(BENCH_OUT)/results.txt; \
	echo "bench: results in $(BENCH_OUT)/ (results.txt, bench.csv, bench.json, bench.png)"; \
	exit $$rc

bench-smoke: $(B)/busrt-bench $(BENCH_BROKER)
	@mkdir -p $(BENCH_OUT)
	@rm -f $(BENCH_OUT)/smoke-broker.log
	./$(B)/busrt-bench --quick --max-time 180 --spawn 'busrtd=$(BENCH_BROKER) -B {addr}' \
	  --broker-log $(BENCH_OUT)/smoke-broker.log --csv $(BENCH_OUT)/smoke.csv \
	  --json $(BENCH_OUT)/smoke.json
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); \
	  bad=[r for r in d["results"] if not r["ok"] or r["lost"] or r["errors"]]; \
	  secs={r["section"] for r in d["results"]}; \
	  miss={"latency","latency-load","throughput","fanout","scale"}-secs; \
	  assert not bad and not miss, (bad, miss); \
	  print("bench-smoke: %d measurements, all complete, nothing lost" % len(d["results"]))' \
	  $(BENCH_OUT)/smoke.json
