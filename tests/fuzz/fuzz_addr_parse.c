/* fuzz/fuzz_addr_parse.c — the peer address text form (mk_peer_addr_parse / mk_peer_addr_format): the input,
 * cut at its first NUL, is parsed. Accepted text must format to a canonical form that fits MK_ADDR_STR_MAX,
 * parses back to exactly the same mk_peer_addr_t and formats again to the same text; a refusal must be
 * MK_EINVAL with a message. */
#include "mosaik/network.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;

    mk_peer_addr_t a, b;
    mk_error_t e;
    memset(&e, 0, sizeof e);
    int rc = mk_peer_addr_parse(text, &a, &e);
    if (rc != MK_OK) {
        CHECK(rc == MK_EINVAL);
        CHECK(e.code == MK_EINVAL);
        CHECK(e.msg[0] != 0);
        free(text);
        return 0;
    }
    CHECK(a.naddrs <= MK_ADDR_MAX);
    CHECK(a.naddrs > 0 || strchr(text, '@') == NULL);

    char first[MK_ADDR_STR_MAX], second[MK_ADDR_STR_MAX];
    int n1 = mk_peer_addr_format(&a, first, sizeof first);
    CHECK(n1 > 0 && n1 < MK_ADDR_STR_MAX);
    CHECK((size_t)n1 == strlen(first));
    CHECK(mk_peer_addr_format(&a, NULL, 0) == n1);

    memset(&e, 0, sizeof e);
    CHECK(mk_peer_addr_parse(first, &b, &e) == MK_OK);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    int n2 = mk_peer_addr_format(&b, second, sizeof second);
    CHECK(n2 == n1);
    CHECK(strcmp(first, second) == 0);
    free(text);
    return 0;
}
