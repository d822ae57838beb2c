/* tee/tdx/mock_keys.c — the mock's key material: P-256 keys derived from the seed (D(seed, label)
 * reduced to a scalar in [1, n−1]) and deterministic ECDSA signatures, so that certificates made from
 * one seed are byte-identical in every process (a validator signature hashes the root's DER). Uses the
 * non-deprecated BN / EC_GROUP / EC_POINT and EVP APIs of OpenSSL 3. */
#include "tee/tdx/mock_int.h"

#include "core/error.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <string.h>

void mk_mock_derive(const uint8_t seed[32], const char *label, uint8_t *out, size_t n) {
    mk_id_t cur;
    memcpy(cur.b, seed, 32);
    size_t done = 0;
    while (done < n) {
        cur = mk_id_derive_str(&cur, label);
        size_t take = n - done < 32 ? n - done : 32;
        memcpy(out + done, cur.b, take);
        done += take;
    }
}

void mk_mock_key_clear(mk_mock_key_t *k) {
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k, sizeof *k);
}

/* n − 1 and the reduction v ↦ (v mod (n − 1)) + 1, which lands in [1, n − 1]. */
static int reduce_scalar(const EC_GROUP *g, BIGNUM *v, BN_CTX *bc) {
    BIGNUM *nm1 = BN_dup(EC_GROUP_get0_order(g));
    int ok = nm1 && BN_sub_word(nm1, 1) && BN_nnmod(v, v, nm1, bc) && BN_add_word(v, 1);
    BN_free(nm1);
    return ok;
}

int mk_mock_key_derive(const uint8_t seed[32], const char *label, mk_mock_key_t *k, mk_error_t *e) {
    memset(k, 0, sizeof *k);
    uint8_t raw[32];
    mk_mock_derive(seed, label, raw, sizeof raw);
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *bc = BN_CTX_new();
    BIGNUM *d = BN_bin2bn(raw, sizeof raw, NULL);
    EC_POINT *P = g ? EC_POINT_new(g) : NULL;
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pc = NULL;
    int rc = MK_EIO;
    if (!g || !bc || !d || !P || !b || !reduce_scalar(g, d, bc) || BN_bn2binpad(d, k->priv, 32) != 32 ||
        !EC_POINT_mul(g, P, d, NULL, NULL, bc) ||
        EC_POINT_point2oct(g, P, POINT_CONVERSION_UNCOMPRESSED, k->pub, sizeof k->pub, bc) != sizeof k->pub)
        goto out;
    if (!OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, k->pub, sizeof k->pub) ||
        !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d) || !(params = OSSL_PARAM_BLD_to_param(b)))
        goto out;
    pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!pc || EVP_PKEY_fromdata_init(pc) <= 0 || EVP_PKEY_fromdata(pc, &k->pkey, EVP_PKEY_KEYPAIR, params) <= 0)
        goto out;
    rc = MK_OK;
out:
    if (rc != MK_OK) MK_ERR(e, rc, "cannot derive the mock key %s", label);
    EVP_PKEY_CTX_free(pc);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EC_POINT_free(P);
    BN_clear_free(d);
    BN_CTX_free(bc);
    EC_GROUP_free(g);
    OPENSSL_cleanse(raw, sizeof raw);
    return rc;
}

/* r, s of a deterministic signature. */
static int sign_bn(const mk_mock_key_t *k, const uint8_t digest[32], BIGNUM *r, BIGNUM *s) {
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *bc = BN_CTX_new();
    BIGNUM *d = BN_bin2bn(k->priv, 32, NULL), *kk = BN_new(), *z = BN_bin2bn(digest, 32, NULL), *t = BN_new();
    EC_POINT *R = g ? EC_POINT_new(g) : NULL;
    int ok = g && bc && d && kk && z && t && R;
    const BIGNUM *n = ok ? EC_GROUP_get0_order(g) : NULL;
    for (uint8_t ctr = 0; ok; ctr++) {
        uint8_t msg[33], mac[32];
        unsigned int maclen = 0;
        memcpy(msg, digest, 32);
        msg[32] = ctr;
        ok = HMAC(EVP_sha256(), k->priv, 32, msg, sizeof msg, mac, &maclen) && maclen == 32 &&
             BN_bin2bn(mac, 32, kk) && reduce_scalar(g, kk, bc) && EC_POINT_mul(g, R, kk, NULL, NULL, bc) &&
             EC_POINT_get_affine_coordinates(g, R, t, NULL, bc) && BN_nnmod(r, t, n, bc);
        /* s = k⁻¹ (z + r d) mod n */
        ok = ok && !BN_is_zero(r) && BN_mod_mul(t, r, d, n, bc) && BN_mod_add(t, t, z, n, bc) &&
             BN_mod_inverse(kk, kk, n, bc) && BN_mod_mul(s, kk, t, n, bc);
        OPENSSL_cleanse(mac, sizeof mac);
        if (ok && !BN_is_zero(s)) break;
        if (ctr == 255) ok = 0;
        if (!ok) break;
    }
    EC_POINT_free(R);
    BN_free(t);
    BN_free(z);
    BN_clear_free(kk);
    BN_clear_free(d);
    BN_CTX_free(bc);
    EC_GROUP_free(g);
    return ok ? MK_OK : MK_EIO;
}

int mk_mock_sign(const mk_mock_key_t *k, const uint8_t digest[32], uint8_t rs[64]) {
    BIGNUM *r = BN_new(), *s = BN_new();
    int rc = r && s ? sign_bn(k, digest, r, s) : MK_ENOMEM;
    if (rc == MK_OK && (BN_bn2binpad(r, rs, 32) != 32 || BN_bn2binpad(s, rs + 32, 32) != 32)) rc = MK_EIO;
    BN_free(r);
    BN_free(s);
    return rc;
}

int mk_mock_sign_der(const mk_mock_key_t *k, const uint8_t digest[32], uint8_t der[80], size_t *der_len) {
    BIGNUM *r = BN_new(), *s = BN_new();
    int rc = r && s ? sign_bn(k, digest, r, s) : MK_ENOMEM;
    ECDSA_SIG *sig = rc == MK_OK ? ECDSA_SIG_new() : NULL;
    if (sig && ECDSA_SIG_set0(sig, r, s)) r = s = NULL; /* owned by sig now */
    else rc = MK_EIO;
    if (rc == MK_OK) {
        int len = i2d_ECDSA_SIG(sig, NULL);
        unsigned char *p = der;
        if (len <= 0 || len > 80 || i2d_ECDSA_SIG(sig, &p) != len) rc = MK_EIO;
        else *der_len = (size_t)len;
    }
    ECDSA_SIG_free(sig);
    BN_free(r);
    BN_free(s);
    return rc;
}
