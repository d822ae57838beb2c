/* fuzz/fuzz_tdx_pck_extension.c — our DER walker for the Intel SGX extension of PCK certificates (spec 60
 * §6.3 item 4) on hostile bytes: no crash or overread; whatever it accepts is self-consistent (CPUSVN
 * equals the component SVNs). Seeds: the extensions of the three real PCK leaves. */
#include "fuzz/fuzz_check.h"
#include "tee/tdx/tdx_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    mk_tdx_pck_ext_t x;
    mk_error_t e = {0};
    int rc = mk_tdx_pck_ext_parse(copy, size, &x, &e);
    CHECK(rc == MK_OK || rc == MK_EPROTO);
    if (rc == MK_OK) {
        CHECK(memcmp(x.cpusvn, x.comp, 16) == 0);
        CHECK(x.pcesvn <= 65535);
    } else {
        CHECK(memchr(e.msg, 0, sizeof e.msg) != NULL && e.msg[0] != '\0');
    }
    free(copy);
    return 0;
}
