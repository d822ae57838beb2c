#!/usr/bin/env bash
# build.sh — one entry point for users, developers and CI: installs the Debian packages a verb needs
# (when missing), configures CMake with the matching preset and runs the verb.
#
#   ./build.sh demo        release build, then the demo            (tier: build)
#   ./build.sh test        the whole suite: unit + debug + sanitize + fuzz-ci below, one summary
#   ./build.sh unit        debug build (-Werror) + every CTest test  (tier: test)
#   ./build.sh sanitize    ASan+UBSan build + every CTest test      (tier: test)
#   ./build.sh fuzz-ci     clang-14 libFuzzer+ASan build, each target MK_FUZZ_SECONDS (20) (tier: fuzz)
#   ./build.sh sim-soak [N] the Raft simulator over N seeds (default 100 000), release build, all cores
#   ./build.sh fuzz        same, longer (FUZZ_SECONDS per target, default 300)
#   ./build.sh valgrind    debug build, the `valgrind` subset under memcheck (tier: test)
#   ./build.sh bench       release build, the benchmarks (tier: bench)
#   ./build.sh deps TIER   only install a tier's packages (build|test|fuzz|bench)
#   ./build.sh clean       remove build/
set -euo pipefail
cd "$(dirname "$0")"

TIER_BUILD="build-essential cmake pkg-config libssl-dev libevent-dev libzstd-dev libjansson-dev liblmdb-dev"
TIER_TEST="$TIER_BUILD libcmocka-dev valgrind iproute2 nftables"
TIER_FUZZ="$TIER_BUILD clang-14 libclang-rt-14-dev llvm-14"
TIER_BENCH="$TIER_BUILD libzmq3-dev nats-server libnats-dev etcd-server"
JOBS=$(nproc 2>/dev/null || echo 2)

need_packages() {  # prints the packages of the list that are not installed
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[*]:-}"
}

deps() {
  local tier=$1 list
  case "$tier" in
    build) list=$TIER_BUILD ;; test) list=$TIER_TEST ;; fuzz) list=$TIER_FUZZ ;; bench) list=$TIER_BENCH ;;
    *) echo "build.sh: unknown tier '$tier' (build|test|fuzz|bench)" >&2; exit 2 ;;
  esac
  if ! command -v dpkg-query >/dev/null; then
    echo "build.sh: not a Debian system; install the equivalents of: $list" >&2
    return 0
  fi
  # shellcheck disable=SC2086
  local missing; missing=$(need_packages $list)
  # the JWT interop test runs Node's jose: any node with npm will do (a NodeSource node brings its own npm)
  if [ "$tier" = test ] && ! { command -v node >/dev/null && command -v npm >/dev/null; }; then
    missing="$missing nodejs npm"
  fi
  missing=$(echo "$missing" | xargs)
  if [ -z "$missing" ]; then [ "$tier" = test ] && interop_deps; return 0; fi
  local cmd="apt-get install -y --no-install-recommends $missing"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "build.sh: missing packages; run as root:" >&2
      echo "  apt-get update && DEBIAN_FRONTEND=noninteractive $cmd" >&2
      exit 2
    fi
  fi
  echo "build.sh: installing $missing" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  if [ "$tier" = test ]; then interop_deps; fi
}

interop_deps() {  # jose for tests/interop/jwt, pinned by its lockfile; without it that test is skipped
  local dir=tests/interop/jwt
  [ -f "$dir/node_modules/jose/package.json" ] && return 0
  command -v npm >/dev/null || return 0
  (cd "$dir" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) ||
    echo "build.sh: npm ci in $dir failed: the JWT interop test will be skipped" >&2
}

configure_build() {  # preset
  cmake --preset "$1" >/dev/null
  cmake --build "build/$1" -j"$JOBS"
}

run_ctest() {  # preset, extra ctest args...
  local preset=$1; shift
  export MK_DHT=off
  ctest --test-dir "build/$preset" --output-on-failure -j2 "$@"
}

fuzz_run() {  # seconds per target
  local secs=$1 pass=0 fail=0
  configure_build fuzz
  local work; work=$(mktemp -d)
  for bin in build/fuzz/bin/fuzz_*; do
    local name; name=$(basename "$bin"); local short=${name#fuzz_}
    mkdir -p "$work/$short"
    cp -r tests/fuzz/corpus/"$short"/. "$work/$short"/ 2>/dev/null || true
    if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
         "$work/$short" >"$work/$short.log" 2>&1; then
      echo "fuzz: $name $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/$short.log" | grep -o '[0-9]*$') execs in ${secs} s, OK"
      pass=$((pass + 1))
    else
      echo "fuzz: $name FAILED; reproduce with: $bin <crash file>"; tail -n 40 "$work/$short.log"
      for f in crash-* leak-* timeout-* oom-*; do [ -f "$f" ] && { echo "input (base64):"; head -c 4096 "$f" | base64; rm -f "$f"; }; done
      fail=$((fail + 1))
    fi
  done
  rm -rf "$work"
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}

verb=${1:-}
case "$verb" in
  demo)
    deps build
    configure_build release
    exec build/release/bin/mosaik-demo "${@:2}" ;;
  test)
    # Every stage runs even when an earlier one failed; the last line sums them in CTest's words.
    deps test; deps fuzz
    total_pass=0; total_fail=0; rc=0
    for stage in unit sanitize fuzz-ci; do
      echo "== build.sh test: $stage"
      log=$(mktemp)
      "$0" "$stage" 2>&1 | tee "$log" || rc=1
      line=$(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$log" | tail -1 || true)
      [ -z "$line" ] && line=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 |
                               awk '{print $3 " tests failed out of " $1 + $3}' || true)
      if [ -z "$line" ]; then echo "build.sh test: stage $stage printed no summary"; rc=1; total_fail=$((total_fail + 1)); fi
      f=$(echo "$line" | awk '{print $1}'); n=$(echo "$line" | awk '{print $NF}')
      total_pass=$((total_pass + ${n:-0} - ${f:-0})); total_fail=$((total_fail + ${f:-0}))
      rm -f "$log"
    done
    all=$((total_pass + total_fail))
    echo "build.sh test: unit, sanitize and fuzz-ci stages"
    echo "$(( all ? 100 * total_pass / all : 0 ))% tests passed, $total_fail tests failed out of $all"
    [ "$total_fail" -eq 0 ] && [ "$rc" -eq 0 ] ;;
  unit)
    deps test
    configure_build debug
    # the library also builds without TDX (MK_WITH_TDX=OFF): a cheap configure + library build
    cmake -S . -B build/notdx -DCMAKE_BUILD_TYPE=Debug -DMK_WERROR=ON -DMK_WITH_TDX=OFF -DMK_BUILD_TESTS=OFF \
      -DMK_BUILD_BENCH=OFF >/dev/null
    cmake --build build/notdx --target mosaik_static -j"$JOBS" >/dev/null
    run_ctest debug "${@:2}" ;;
  sanitize)
    deps test
    configure_build asan
    export MK_TIME_FACTOR=${MK_TIME_FACTOR:-3} MK_SIM_SEED_DIVISOR=${MK_SIM_SEED_DIVISOR:-10}
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    run_ctest asan -LE 'bench-smoke|valgrind-only' "${@:2}" ;;
  fuzz-ci)
    deps fuzz
    fuzz_run "${MK_FUZZ_SECONDS:-20}" ;;
  fuzz)
    deps fuzz
    fuzz_run "${FUZZ_SECONDS:-300}" ;;
  valgrind)
    deps test
    configure_build debug
    export MK_TIME_FACTOR=${MK_TIME_FACTOR:-10} MK_DHT=off
    vpass=0; vfail=0
    for t in $(ctest --test-dir build/debug -N -L valgrind | awk '/Test +#/ {print $3}'); do
      bin=build/debug/bin/test_${t//./_}
      if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
           "$bin" >"build/debug/valgrind-$t.log" 2>&1; then
        echo "valgrind: $t OK"; vpass=$((vpass + 1))
      else
        echo "valgrind: $t FAILED (build/debug/valgrind-$t.log)"; tail -n 30 "build/debug/valgrind-$t.log"
        vfail=$((vfail + 1))
      fi
    done
    echo "$vpass passed, $vfail failed"
    [ "$vfail" -eq 0 ] ;;
  sim-soak)
    # The long Raft simulation: SEEDS seeds (default 100 000) of the random scenario in a release
    # build, split over the cores in disjoint seed ranges; a failing seed prints its replay line.
    deps build
    # its own optimised build: the release preset leaves the tests (and so the simulators) out
    cmake -S . -B build/soak -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g -DNDEBUG" \
      -DMK_BUILD_TESTS=ON -DMK_BUILD_BENCH=OFF -DMK_TEST_HOOKS=OFF >/dev/null
    cmake --build build/soak --target groups-sim -j"$(nproc)" >/dev/null
    seeds=${2:-${SEEDS:-100000}}; jobs=$(nproc); per=$(( (seeds + jobs - 1) / jobs )); start=$(date +%s)
    pids=()
    for j in $(seq 0 $((jobs - 1))); do
      first=$((1 + j * per)); n=$per
      [ $((first + n - 1)) -gt "$seeds" ] && n=$((seeds - first + 1))
      [ "$n" -le 0 ] && continue
      build/soak/tests/sim/groups-sim --seed "$first" --seeds "$n" > "build/soak/sim-soak-$j.log" 2>&1 &
      pids+=($!)
    done
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    cat build/soak/sim-soak-*.log | grep -E 'violated|"sim"' || true
    echo "sim-soak: $seeds seeds in $(( $(date +%s) - start )) s on $jobs cores, $([ $rc -eq 0 ] && echo no violation || echo VIOLATIONS)"
    exit $rc ;;
  bench)
    deps bench
    configure_build release
    for b in build/release/bin/bench_*; do "$b" "${@:2}"; done ;;
  deps)
    deps "${2:?usage: ./build.sh deps build|test|fuzz|bench}" ;;
  clean)
    rm -rf build ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2 ;;
esac
