/* tee/tdx/collateral.c — DCAP collateral (spec 60 §6.1, §6.3): parsing the JSON object of nine strings
 * (PEM chains, hex DER CRLs, the signed TCB-info / QE-identity texts kept byte-exact and their r‖s
 * signatures) and step 8's order: CRLs (signature, window), issuer chains to the pinned root and their
 * revocation, signatures of the signed texts, then TCB and QE matching (tcb_match.c) and the verdict. */
#include "tee/tdx/tdx_int.h"

#include "core/error.h"

#include <jansson.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CRL_HEX (4u << 20) /* 2 MiB of DER: far above any real CRL */

mk_tdx_coll_t *mk_tdx_coll_ref(mk_tdx_coll_t *c) {
    if (c) atomic_fetch_add(&c->refs, 1);
    return c;
}

void mk_tdx_coll_unref(mk_tdx_coll_t *c) {
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
    sk_X509_pop_free(c->pck_crl_chain, X509_free);
    sk_X509_pop_free(c->tcb_chain, X509_free);
    sk_X509_pop_free(c->qe_chain, X509_free);
    X509_CRL_free(c->root_crl);
    X509_CRL_free(c->pck_crl);
    free(c->tcb_info);
    free(c->qe_identity);
    free(c);
}

static const char *str_field(json_t *o, const char *name, size_t *len, mk_error_t *e) {
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v)) {
        COLL_ERR(e, MK_EPROTO, "collateral: %s missing or not a string", name);
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

static STACK_OF(X509) *chain_field(json_t *o, const char *name, mk_error_t *e) {
    size_t n;
    const char *s = str_field(o, name, &n, e);
    if (!s) return NULL;
    STACK_OF(X509) *sk = mk_tdx_pem_certs(s, n);
    if (!sk || sk_X509_num(sk) != 2) {
        sk_X509_pop_free(sk, X509_free);
        COLL_ERR(e, MK_EPROTO, "collateral: %s is not a PEM chain of two certificates", name);
        return NULL;
    }
    return sk;
}

static X509_CRL *crl_field(json_t *o, const char *name, mk_error_t *e) {
    size_t n;
    const char *s = str_field(o, name, &n, e);
    if (!s) return NULL;
    if (n == 0 || n % 2 || n > MAX_CRL_HEX) {
        COLL_ERR(e, MK_EPROTO, "collateral: %s is not hex of a DER CRL", name);
        return NULL;
    }
    uint8_t *der = malloc(n / 2);
    if (!der) {
        COLL_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    X509_CRL *crl = NULL;
    if (mk_tdx_hex_decode(s, n, der, n / 2)) {
        const unsigned char *p = der;
        crl = d2i_X509_CRL(NULL, &p, (long)(n / 2));
        if (crl && p != der + n / 2) {
            X509_CRL_free(crl);
            crl = NULL;
        }
    }
    ERR_clear_error();
    free(der);
    if (!crl) COLL_ERR(e, MK_EPROTO, "collateral: %s is not hex of a DER CRL", name);
    return crl;
}

static char *text_field(json_t *o, const char *name, size_t *len, mk_error_t *e) {
    const char *s = str_field(o, name, len, e);
    if (!s) return NULL;
    if (memchr(s, 0, *len)) {
        COLL_ERR(e, MK_EPROTO, "collateral: %s holds a NUL", name);
        return NULL;
    }
    char *c = malloc(*len + 1);
    if (!c) {
        COLL_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(c, s, *len + 1);
    return c;
}

static bool sig_field(json_t *o, const char *name, uint8_t out[64], mk_error_t *e) {
    size_t n;
    const char *s = str_field(o, name, &n, e);
    if (!s) return false;
    if (!mk_tdx_hex_decode(s, n, out, 64)) {
        COLL_ERR(e, MK_EPROTO, "collateral: %s is not the hex of a 64-byte r||s signature", name);
        return false;
    }
    return true;
}

mk_tdx_coll_t *mk_tdx_coll_parse(const char *json, size_t len, mk_error_t *e) {
    json_error_t je;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        COLL_ERR(e, MK_EPROTO, "collateral: not a JSON object (%s)", o ? "another value" : je.text);
        return NULL;
    }
    mk_tdx_coll_t *c = calloc(1, sizeof *c);
    if (!c) {
        json_decref(o);
        COLL_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    atomic_init(&c->refs, 1);
    bool ok = (c->pck_crl_chain = chain_field(o, "pck_crl_issuer_chain", e)) &&
              (c->root_crl = crl_field(o, "root_ca_crl", e)) && (c->pck_crl = crl_field(o, "pck_crl", e)) &&
              (c->tcb_chain = chain_field(o, "tcb_info_issuer_chain", e)) &&
              (c->tcb_info = text_field(o, "tcb_info", &c->tcb_info_len, e)) &&
              sig_field(o, "tcb_info_signature", c->tcb_sig, e) &&
              (c->qe_chain = chain_field(o, "qe_identity_issuer_chain", e)) &&
              (c->qe_identity = text_field(o, "qe_identity", &c->qe_identity_len, e)) &&
              sig_field(o, "qe_identity_signature", c->qe_sig, e);
    json_decref(o);
    if (!ok) {
        mk_tdx_coll_unref(c);
        return NULL;
    }
    return c;
}

/* A CRL signed by issuer (same name, key verifies) whose window contains now. */
static int check_crl(X509_CRL *crl, X509 *issuer, const char *name, int64_t now, int64_t *next,
                     mk_ticket_reason_t *reason, mk_error_t *e) {
    int64_t tu, nu;
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0 ||
        X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1) {
        ERR_clear_error();
        *reason = MK_TICKET_UNTRUSTED;
        return TDX_ERR(e, MK_EDENIED, "collateral: %s is not signed by its issuer", name);
    }
    if (!mk_tdx_asn1_time(X509_CRL_get0_lastUpdate(crl), &tu) || !X509_CRL_get0_nextUpdate(crl) ||
        !mk_tdx_asn1_time(X509_CRL_get0_nextUpdate(crl), &nu)) {
        *reason = MK_TICKET_MALFORMED;
        return TDX_ERR(e, MK_EPROTO, "collateral: %s has no readable thisUpdate/nextUpdate", name);
    }
    if (now < tu || now > nu) {
        *reason = MK_TICKET_EXPIRED;
        return TDX_ERR(e, MK_EDENIED, "collateral: %s is %s at %lld (valid %lld to %lld)", name,
                      now < tu ? "not yet valid" : "expired", (long long)now, (long long)tu, (long long)nu);
    }
    if (nu < *next) *next = nu;
    return MK_OK;
}

static int check_chain(const mk_tdx_coll_input_t *in, const mk_tdx_coll_t *c, STACK_OF(X509) *chain,
                       const char *name, mk_ticket_reason_t *reason, mk_error_t *e) {
    int64_t na;
    char what[64];
    snprintf(what, sizeof what, "collateral: %s", name);
    if (mk_tdx_chain_verify(in->t->root, chain, 2, in->now, &na, what, reason, e) != MK_OK) return e ? e->code : MK_EDENIED;
    X509_REVOKED *rv = NULL;
    int revoked = X509_CRL_get0_by_cert(c->root_crl, &rv, sk_X509_value(chain, 0));
    ERR_clear_error();
    if (revoked == 1) {
        *reason = MK_TICKET_REVOKED;
        return TDX_ERR(e, MK_EDENIED, "collateral: %s: its signing certificate is revoked", name);
    }
    return MK_OK;
}

static bool severer(mk_tcb_status_t a, mk_tcb_status_t b) { return (int)a > (int)b; }

int mk_tdx_collateral_check(const mk_tdx_coll_input_t *in, const mk_tdx_coll_t *c, mk_tdx_report_t *rep,
                            mk_ticket_reason_t *reason, mk_error_t *e) {
    int64_t next = rep->valid_until_s;
    X509 *pck_issuer = sk_X509_value(c->pck_crl_chain, 0);
    /* 2. both CRLs: signed by their issuers, window contains now */
    int rc = check_crl(c->root_crl, in->t->root, "root_ca_crl", in->now, &next, reason, e);
    if (rc == MK_OK) rc = check_crl(c->pck_crl, pck_issuer, "pck_crl", in->now, &next, reason, e);
    if (rc != MK_OK) return rc;
    /* 1. issuer chains to the pinned root, not revoked by the root CRL; the PCK CRL's issuer is the quote's
     * intermediate */
    if ((rc = check_chain(in, c, c->tcb_chain, "tcb_info_issuer_chain", reason, e)) != MK_OK ||
        (rc = check_chain(in, c, c->qe_chain, "qe_identity_issuer_chain", reason, e)) != MK_OK ||
        (rc = check_chain(in, c, c->pck_crl_chain, "pck_crl_issuer_chain", reason, e)) != MK_OK)
        return rc;
    if (X509_NAME_cmp(X509_get_subject_name(pck_issuer), X509_get_subject_name(in->intermediate)) != 0 ||
        EVP_PKEY_eq(X509_get0_pubkey(pck_issuer), X509_get0_pubkey(in->intermediate)) != 1) {
        ERR_clear_error();
        *reason = MK_TICKET_UNTRUSTED;
        return TDX_ERR(e, MK_EDENIED, "collateral: the pck crl issuer is not the quote's intermediate");
    }
    /* 3 and 7: signatures over the exact texts */
    if (!mk_tdx_ecdsa_verify(X509_get0_pubkey(sk_X509_value(c->tcb_chain, 0)), c->tcb_sig, c->tcb_info,
                             c->tcb_info_len)) {
        *reason = MK_TICKET_UNTRUSTED;
        return TDX_ERR(e, MK_EDENIED, "collateral: tcb_info_signature does not verify");
    }
    if (!mk_tdx_ecdsa_verify(X509_get0_pubkey(sk_X509_value(c->qe_chain, 0)), c->qe_sig, c->qe_identity,
                             c->qe_identity_len)) {
        *reason = MK_TICKET_UNTRUSTED;
        return TDX_ERR(e, MK_EDENIED, "collateral: qe_identity_signature does not verify");
    }
    /* 4. the leaf's SGX extension */
    mk_tdx_pck_ext_t x;
    if (mk_tdx_pck_ext_from_cert(in->leaf, &x, e) != MK_OK) {
        *reason = MK_TICKET_MALFORMED;
        return MK_EPROTO;
    }
    /* 3, 5, 6: TCB info; 7: QE identity */
    mk_tdx_report_t tmp = *rep;
    tmp.advisories[0] = '\0';
    mk_tcb_status_t plat, qe;
    if ((rc = mk_tdx_tcb_match(c->tcb_info, c->tcb_info_len, in->q, &x, in->now, &plat, &next, &tmp, reason, e)) !=
            MK_OK ||
        (rc = mk_tdx_qe_match(c->qe_identity, c->qe_identity_len, in->q, in->now, &qe, &next, &tmp, reason, e)) !=
            MK_OK)
        return rc;
    /* 8. the most severe status decides */
    mk_tcb_status_t st = severer(qe, plat) ? qe : plat;
    memcpy(rep->advisories, tmp.advisories, sizeof rep->advisories);
    rep->tcb = st;
    rep->valid_until_s = next;
    if (st == MK_TCB_REVOKED) {
        *reason = MK_TICKET_REVOKED;
        return TDX_ERR(e, MK_EDENIED, "collateral: tcb status Revoked");
    }
    if (!(in->t->accept & MK_TCB_ACCEPT(st))) {
        *reason = MK_TICKET_POLICY;
        return TDX_ERR(e, MK_EDENIED, "collateral: tcb status %s is not accepted", mk_tcb_status_str(st));
    }
    *reason = MK_TICKET_OK;
    return MK_OK;
}
