/* fuzz/replay_main.c — the corpus replay driver linked into every fuzz target outside fuzzing builds: runs
 * each regular file named on the command line, recursing into directories (entries in name order), once
 * through LLVMFuzzerTestOneInput, then prints "replayed N inputs". Exits 0 unless a path cannot be read;
 * a property violation inside a target aborts the process as it would under libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as with libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define MAX_DEPTH 32  /* guards against symlink loops */

/* Reads the whole file into a buffer of exactly its size (so ASan sees any overread). */
static int replay_file(const char *path, size_t *count) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) break;
        if (len == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (!buf || ferror(fp)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        rc = 1;
    }
    fclose(fp);
    if (rc == 0) {
        uint8_t *exact = malloc(len ? len : 1);
        if (!exact) {
            fprintf(stderr, "replay: out of memory for %s\n", path);
            rc = 1;
        } else {
            memcpy(exact, buf, len);
            LLVMFuzzerTestOneInput(exact, len);
            free(exact);
            (*count)++;
        }
    }
    free(buf);
    return rc;
}

static int replay_path(const char *path, size_t *count, int depth) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: cannot stat %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (S_ISREG(st.st_mode)) return replay_file(path, count);
    if (!S_ISDIR(st.st_mode)) return 0;  /* sockets, fifos, devices: not inputs */
    if (depth >= MAX_DEPTH) {
        fprintf(stderr, "replay: %s nested too deeply\n", path);
        return 1;
    }
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s: %s\n", path, strerror(errno));
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            size_t len = strlen(path) + 1 + strlen(name) + 1;
            char *child = malloc(len);
            if (!child) {
                rc = 1;
            } else {
                snprintf(child, len, "%s/%s", path, name);
                rc |= replay_path(child, count, depth + 1);
                free(child);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) rc |= replay_path(argv[i], &count, 0);
    printf("replayed %zu inputs\n", count);
    return rc;
}
