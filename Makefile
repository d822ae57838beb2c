# Makefile — thin developer wrapper around build.sh (same verbs, same presets).
.PHONY: all demo test unit sanitize fuzz fuzz-ci valgrind bench clean sim-soak
all:
	cmake --preset debug >/dev/null && cmake --build build/debug -j$$(nproc)
demo test unit sanitize fuzz fuzz-ci valgrind bench clean:
	./build.sh $@
sim-soak:
	./build.sh sim-soak $(SEEDS)
