/* tee/tdx/tdx_int.h — internal interfaces of the TDX verifier: the PCK extension walker, parsed
 * collateral, the trust object, TCB matching and small helpers shared by the files of this folder. */
#ifndef MK_TEE_TDX_INT_H
#define MK_TEE_TDX_INT_H

#include "mosaik/tdx.h"

#include "core/error.h"

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>

/* Errors of the verification path name the public entry point, whichever helper found the cause. */
#define TDX_ERR(e, code, ...) mk_err_set((e), (code), "mk_tdx_quote_verify", __VA_ARGS__)
#define COLL_ERR(e, code, ...) mk_err_set((e), (code), "mk_tdx_trust", __VA_ARGS__)

/* ---- the Intel SGX extension of a PCK leaf (pck_ext.c) ---- */

typedef struct mk_tdx_pck_ext {
    uint8_t comp[16];  /* .2.1–.2.16 component SVNs */
    uint32_t pcesvn;   /* .2.17 */
    uint8_t cpusvn[16];/* .2.18 */
    uint8_t pceid[2];  /* .3 */
    uint8_t fmspc[6];  /* .4 */
} mk_tdx_pck_ext_t;

/* Walks the DER contents of the extension 1.2.840.113741.1.13.1 (the OCTET STRING's value). MK_EPROTO
 * naming the field on anything malformed, missing or duplicated. */
int mk_tdx_pck_ext_parse(const uint8_t *der, size_t len, mk_tdx_pck_ext_t *out, mk_error_t *e);
/* Finds the extension in cert and walks it. */
int mk_tdx_pck_ext_from_cert(X509 *cert, mk_tdx_pck_ext_t *out, mk_error_t *e);

/* ---- collateral (collateral.c) ---- */

typedef struct mk_tdx_coll {
    atomic_int refs;
    STACK_OF(X509) *pck_crl_chain, *tcb_chain, *qe_chain;
    X509_CRL *root_crl, *pck_crl;
    char *tcb_info, *qe_identity; /* the signed texts, byte-exact, NUL-terminated */
    size_t tcb_info_len, qe_identity_len;
    uint8_t tcb_sig[64], qe_sig[64];
} mk_tdx_coll_t;

/* Parses the collateral JSON (§6.1) and decodes its PEM, hex and DER parts; MK_EPROTO naming the field. */
mk_tdx_coll_t *mk_tdx_coll_parse(const char *json, size_t len, mk_error_t *e);
mk_tdx_coll_t *mk_tdx_coll_ref(mk_tdx_coll_t *c);
void mk_tdx_coll_unref(mk_tdx_coll_t *c);

/* ---- trust (trust.c) ---- */

struct mk_tdx_trust {
    atomic_int refs;
    X509 *root;
    uint8_t root_fp[32];
    uint32_t accept;
    bool require_collateral, allow_debug, builtin_root;
    pthread_mutex_t mu;
    mk_tdx_coll_t *coll; /* under mu */
};
/* The process-wide default trust (never freed). NULL only on allocation failure. */
const mk_tdx_trust_t *mk_tdx_trust_default(void);
/* A reference to t's current collateral (NULL = none); release with mk_tdx_coll_unref. */
mk_tdx_coll_t *mk_tdx_trust_collateral(const mk_tdx_trust_t *t);

/* ---- step 8 (tcb_match.c, collateral.c) ---- */

/* What step 8 needs of the quote and its chain. */
typedef struct mk_tdx_coll_input {
    const mk_tdx_quote_t *q;
    X509 *leaf, *intermediate;
    const mk_tdx_trust_t *t;
    int64_t now;
} mk_tdx_coll_input_t;

/* Runs §6.3 items 1–8; fills rep (tcb, advisories, valid_until). On failure *reason is one of MALFORMED,
 * UNTRUSTED, EXPIRED, POLICY, REVOKED (or INTERNAL) and e names the cause. */
int mk_tdx_collateral_check(const mk_tdx_coll_input_t *in, const mk_tdx_coll_t *c, mk_tdx_report_t *rep,
                            mk_ticket_reason_t *reason, mk_error_t *e);
/* §6.3 items 3, 5, 6 on the TCB-info text (signature already checked) and 7 on the QE identity text. */
int mk_tdx_tcb_match(const char *tcb_info, size_t len, const mk_tdx_quote_t *q, const mk_tdx_pck_ext_t *x,
                     int64_t now, mk_tcb_status_t *st, int64_t *next_update, mk_tdx_report_t *rep,
                     mk_ticket_reason_t *reason, mk_error_t *e);
int mk_tdx_qe_match(const char *qe_identity, size_t len, const mk_tdx_quote_t *q, int64_t now, mk_tcb_status_t *st,
                    int64_t *next_update, mk_tdx_report_t *rep, mk_ticket_reason_t *reason, mk_error_t *e);
/* Parses an RFC 3339 UTC date "YYYY-MM-DDTHH:MM:SS[.fff]Z". */
bool mk_tdx_parse_date(const char *s, int64_t *out);

/* ---- helpers (verify.c) ---- */

/* Verifies a raw P-256 r‖s signature over SHA-256(msg) with key. */
bool mk_tdx_ecdsa_verify(EVP_PKEY *key, const uint8_t sig[64], const void *msg, size_t len);
/* Seconds since the epoch of an ASN1 time; false when unrepresentable. */
bool mk_tdx_asn1_time(const ASN1_TIME *t, int64_t *out);
/* Decodes the PEM certificates of p (2–4 expected by the caller) into a new stack. NULL on any error. */
STACK_OF(X509) *mk_tdx_pem_certs(const void *p, size_t len);
/* Verifies chain[0] → … → root at now (strict, chain exactly n certificates incl. the root); on failure
 * *reason = EXPIRED or UNTRUSTED and e names the cause after "what: ". Fills *not_after with the chain's earliest
 * notAfter. */
int mk_tdx_chain_verify(X509 *root, STACK_OF(X509) *certs, size_t want_len, int64_t now, int64_t *not_after,
                        const char *what, mk_ticket_reason_t *reason, mk_error_t *e);
/* Hex of exactly 2n digits into out[n]. */
bool mk_tdx_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t n);

/* ---- tickets (ticket.c) ---- */

enum { MK_TDX_DEC_PARSE = 1u, MK_TDX_DEC_BINDING = 2u }; /* decode flags; BINDING needs PARSE */
/* Decodes a ticket (zstd + codec, §4) and, per flags, parses its quote and checks the REPORTDATA
 * binding. mk_tdx_ticket_decode = both flags. The validator decodes with neither so that the quote's
 * structure fails at PARSE and the binding at REPORT_DATA, as §6.2 orders them. MK_EPROTO naming the cause. */
int mk_tdx_ticket_decode_ex(const uint8_t *data, size_t len, unsigned flags, mk_tdx_ticket_t **out, mk_error_t *e);
/* Parses the ticket's quote bytes into its quote (after a decode without MK_TDX_DEC_PARSE). */
int mk_tdx_ticket_parse_quote(mk_tdx_ticket_t *t, mk_error_t *e);
/* The raw quote bytes of a decoded ticket. */
const uint8_t *mk_tdx_ticket_quote_bytes(const mk_tdx_ticket_t *t, size_t *len);
/* True when expires is MK_EXPIRES_NEVER or whole seconds in (0, INT64_MAX / 1000]. */
bool mk_tdx_expires_ok(int64_t expires);
/* ⌊ms / 1000⌋ for any int64. */
static inline int64_t mk_tdx_floor_s(int64_t ms) { return ms / 1000 - (ms % 1000 < 0); }

#endif
