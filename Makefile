# Makefile — thin developer wrapper around build.sh (same verbs, same presets).
.PHONY: all demo test unit sanitize fuzz fuzz-ci valgrind bench clean
all:
	cmake --preset debug >/dev/null && cmake --build build/debug -j$$(nproc)
demo test unit sanitize fuzz fuzz-ci valgrind bench clean:
	./build.sh $@
