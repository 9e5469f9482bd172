# busrt-bench (bench/): latency, throughput, fan-out and scale of BUS/RT v1
# brokers, each figure beside a floor measured in the same run.
#   make bench         full run against $(B)/obj/busrtd (spawned); the table,
#                      CSV, JSON and chart go to $(B)/bench/
#   make bench-smoke   builds it and runs a ~10 s quick run that must finish
#                      with every measurement complete and nothing lost (in
#                      make test). Timing goals are never pass/fail.
#   make bench-io      the broker's three multiplexers (--io select, poll,
#                      epoll) side by side in one run: latency and scale
#                      sections; outputs io-*.* in $(B)/bench/
#   make bench-rt      the broker beside itself started with --rt-priority
#                      $(BENCH_RT) --cpu (the last CPU) --mlockall
#                      (--broker-rt): realtime QoS latency, idle and under
#                      load; outputs rt-*.* in $(B)/bench/. Where that is not
#                      permitted, the report says so and has the default
#                      broker only.
#   make bench-inproc  an embedded broker (libbusrtd) in the bench process:
#                      round trips and throughput of in-process clients
#                      beside its UNIX socket and a socketpair floor, one
#                      run (busrt-bench --inproc); outputs inproc.* in
#                      $(B)/bench/ (bench-smoke runs it with --quick)
#   make bench-memory  latency of the same broker without a budget, with
#                      --memory-limit 64M and with --memory-limit 64M
#                      --preallocate, side by side in one run; outputs
#                      memory-*.* in $(B)/bench/
# BENCH_ARGS adds options, e.g. make bench BENCH_ARGS='--target other=/tmp/b.sock'.

BENCH_SRC    := bench/main.c bench/opts.c bench/run.c bench/procs.c bench/targets.c \
                bench/rtt.c bench/latency.c bench/place.c bench/tput.c bench/scale.c \
                bench/sysinfo.c bench/conn.c bench/ctl.c bench/peer.c bench/report.c \
                bench/util.c bench/affinity.c bench/inproc.c
BENCH_OBJ    := $(BENCH_SRC:%.c=$(B)/obj/%.o)
# the broker's RSS and descriptors (scale), shared with the soak test
BENCH_PROC   := $(B)/obj/ref/src/common/procinfo.o
BENCH_OUT    := $(B)/bench
BENCH_BROKER ?= $(B)/obj/busrtd
BENCH_ARGS   ?=
# SCHED_FIFO priority of the realtime broker of bench-rt (and bench-smoke)
BENCH_RT     ?= 50
# the program to run: ./build/busrt-bench, or as given for an absolute B
BENCH_BIN    := $(if $(filter /%,$(B)),,./)$(B)/busrt-bench

ALL_EXTRA   += $(B)/busrt-bench
TEST_SUITES += bench-smoke

.PHONY: bench bench-smoke bench-io bench-rt bench-memory bench-inproc

# The scale series holds up to 19000 other clients: spawned brokers get room
# for them (busrtd's own default follows its descriptor limit).
BENCH_MAXC   := --max-clients 30000
BENCH_IO     := select poll epoll

# gnuplot draws the chart; installed when missing, skipped when unavailable.
define bench_gnuplot
@command -v gnuplot >/dev/null 2>&1 || { echo "bench: installing gnuplot-nox for the chart"; \
  apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null 2>&1 || \
  echo "bench: gnuplot unavailable; the chart is skipped"; }
endef

# Objects come from the obj variant's pattern rule (WARN, CFLAGS, CPPFLAGS_ALL).
$(BENCH_OBJ): bench/bench.h bench/run.h
$(B)/obj/bench/scale.o $(BENCH_PROC): ref/src/common/procinfo.h

# --inproc embeds the broker: libbusrtd, and libbusrt for its clients.
$(B)/busrt-bench: $(BENCH_OBJ) $(BENCH_PROC) $(B)/obj/libbusrtd.a $(B)/obj/libbusrt.a \
                  $(B)/obj/libbusrtcore.a
	$(CC) $(FLAGS_obj) $^ -lm $(BROKER_LIBS) -o $@

bench: $(B)/busrt-bench $(BENCH_BROKER)
	@mkdir -p $(BENCH_OUT)
	$(bench_gnuplot)
	@rm -f $(BENCH_OUT)/broker.log
	@rc=0; $(BENCH_BIN) --spawn 'busrtd=$(BENCH_BROKER) $(BENCH_MAXC) -B {addr}' \
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
	$(BENCH_BIN) --quick --max-time 180 --spawn 'busrtd=$(BENCH_BROKER) -B {addr}' \
	  --broker-log $(BENCH_OUT)/smoke-broker.log --csv $(BENCH_OUT)/smoke.csv \
	  --json $(BENCH_OUT)/smoke.json
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); \
	  bad=[r for r in d["results"] if not r["ok"] or r["lost"] or r["errors"]]; \
	  secs={r["section"] for r in d["results"]}; \
	  miss={"latency","latency-load","throughput","fanout","scale"}-secs; \
	  assert not bad and not miss, (bad, miss); \
	  print("bench-smoke: %d measurements, all complete, nothing lost" % len(d["results"]))' \
	  $(BENCH_OUT)/smoke.json
	@rm -f $(BENCH_OUT)/smoke-rt-broker.log
	$(BENCH_BIN) --quick -q --max-time 60 --only latency --no-placement --no-load --payloads 100 \
	  --qos 2,3 --spawn 'busrtd=$(BENCH_BROKER) -B {addr}' --broker-rt $(BENCH_RT) \
	  --broker-log $(BENCH_OUT)/smoke-rt-broker.log --json $(BENCH_OUT)/smoke-rt.json \
	  > $(BENCH_OUT)/smoke-rt.txt
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); rt=d["realtime"]; \
	  bad=[r for r in d["results"] if not r["ok"] or r["lost"] or r["errors"]]; \
	  assert rt is not None and not bad, (rt, bad); \
	  assert rt["skipped"] or (len(rt["cells"]) == 2 and all(c["ok"] for c in rt["cells"])), rt; \
	  print("bench-smoke --broker-rt: " + (rt["skipped"] if rt["skipped"] else \
	    "; ".join("QoS %d p50 %.1f us (default broker %.1f us)" % (c["qos"], c["p50_us"], \
	      c["p50_base_us"]) for c in rt["cells"])))' $(BENCH_OUT)/smoke-rt.json
	$(BENCH_BIN) --inproc --quick --csv $(BENCH_OUT)/smoke-inproc.csv \
	  2> $(BENCH_OUT)/smoke-inproc-broker.log > $(BENCH_OUT)/smoke-inproc.txt || \
	  { cat $(BENCH_OUT)/smoke-inproc.txt; tail -20 $(BENCH_OUT)/smoke-inproc-broker.log; exit 1; }
	@echo "bench-smoke --inproc: $$(grep -c . $(BENCH_OUT)/smoke-inproc.csv) CSV lines; \
	  $$(tail -1 $(BENCH_OUT)/smoke-inproc.txt)"

# One target per multiplexer of the same broker, measured interleaved with
# the floor: latency (idle, placement probe, under load) and scale. A broker
# that does not start (e.g. one without --io) fails its target, reported in
# the table; the run then exits 1.
bench-io: $(B)/busrt-bench $(BENCH_BROKER)
	@mkdir -p $(BENCH_OUT)
	$(bench_gnuplot)
	@rm -f $(BENCH_OUT)/io-broker.log
	@rc=0; $(BENCH_BIN) \
	  $(foreach io,$(BENCH_IO),--spawn '$(io)=$(BENCH_BROKER) --io $(io) $(BENCH_MAXC) -B {addr}') \
	  --only latency,scale --broker-log $(BENCH_OUT)/io-broker.log \
	  --csv $(BENCH_OUT)/io.csv --json $(BENCH_OUT)/io.json \
	  $$(command -v gnuplot >/dev/null 2>&1 && echo --plot $(BENCH_OUT)/io.png) \
	  $(BENCH_ARGS) > $(BENCH_OUT)/io-results.txt || rc=$$?; \
	cat $(BENCH_OUT)/io-results.txt; \
	echo "bench-io: results in $(BENCH_OUT)/ (io-results.txt, io.csv, io.json, io.png)"; \
	exit $$rc

# The default broker and its realtime twin (--broker-rt): the latency
# section (idle, placement probe, under load) for the realtime QoS, measured
# interleaved with the floor; the "Realtime broker" table compares them.
bench-rt: $(B)/busrt-bench $(BENCH_BROKER)
	@mkdir -p $(BENCH_OUT)
	@rm -f $(BENCH_OUT)/rt-broker.log
	@rc=0; $(BENCH_BIN) --spawn 'busrtd=$(BENCH_BROKER) -B {addr}' --broker-rt $(BENCH_RT) \
	  --only latency --qos 2,3 --broker-log $(BENCH_OUT)/rt-broker.log \
	  --csv $(BENCH_OUT)/rt.csv --json $(BENCH_OUT)/rt.json \
	  $(BENCH_ARGS) > $(BENCH_OUT)/rt-results.txt || rc=$$?; \
	cat $(BENCH_OUT)/rt-results.txt; \
	echo "bench-rt: results in $(BENCH_OUT)/ (rt-results.txt, rt.csv, rt.json)"; \
	exit $$rc

# The cost of counting every allocation (--memory-limit) and of the buddy
# arena (--preallocate) on round-trip latency, measured interleaved with the
# plain broker and the floor.
bench-memory: $(B)/busrt-bench $(BENCH_BROKER)
	@mkdir -p $(BENCH_OUT)
	@rm -f $(BENCH_OUT)/memory-broker.log
	@rc=0; $(BENCH_BIN) --spawn 'plain=$(BENCH_BROKER) -B {addr}' \
	  --spawn 'limit=$(BENCH_BROKER) --memory-limit 64M -B {addr}' \
	  --spawn 'prealloc=$(BENCH_BROKER) --memory-limit 64M --preallocate -B {addr}' \
	  --only latency --no-load --no-placement --broker-log $(BENCH_OUT)/memory-broker.log \
	  --csv $(BENCH_OUT)/memory.csv --json $(BENCH_OUT)/memory.json \
	  $(BENCH_ARGS) > $(BENCH_OUT)/memory-results.txt || rc=$$?; \
	cat $(BENCH_OUT)/memory-results.txt; \
	echo "bench-memory: results in $(BENCH_OUT)/ (memory-results.txt, memory.csv, memory.json)"; \
	exit $$rc

# An embedded broker: in-process clients beside its UNIX socket and the floor
# (busrt-bench --inproc); BENCH_INPROC_ARGS adds options (--quick, --rounds).
BENCH_INPROC_ARGS ?=
# Run twice: clients that sleep at once when they wait (the default), and
# clients that look for up to 50 us first (spin_us; inproc-spin.*).
bench-inproc: $(B)/busrt-bench
	@mkdir -p $(BENCH_OUT)
	$(BENCH_BIN) --inproc --csv $(BENCH_OUT)/inproc.csv $(BENCH_INPROC_ARGS) \
	  2> $(BENCH_OUT)/inproc-broker.log | tee $(BENCH_OUT)/inproc.txt
	$(BENCH_BIN) --inproc --spin 50 --csv $(BENCH_OUT)/inproc-spin.csv $(BENCH_INPROC_ARGS) \
	  2> $(BENCH_OUT)/inproc-spin-broker.log | tee $(BENCH_OUT)/inproc-spin.txt
