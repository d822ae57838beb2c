/* tickets/jwt_key.c — JWT key parsing, fingerprints and signature primitives over OpenSSL 3. */
#include "tickets/jwt_key.h"

#include "core/error.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static const mk_jwt_alg_info_t ALGS[] = {
    [MK_JWT_HS256] = {"HS256", "hs256", NULL, 32, 32, EVP_sha256},
    [MK_JWT_HS384] = {"HS384", "hs384", NULL, 48, 48, EVP_sha384},
    [MK_JWT_HS512] = {"HS512", "hs512", NULL, 64, 64, EVP_sha512},
    [MK_JWT_ES256] = {"ES256", "es256", "prime256v1", 64, 32, EVP_sha256},
    [MK_JWT_ES256K] = {"ES256K", "es256k", "secp256k1", 64, 32, EVP_sha256},
    [MK_JWT_ES384] = {"ES384", "es384", "secp384r1", 96, 48, EVP_sha384},
    [MK_JWT_ES512] = {"ES512", "es512", "secp521r1", 132, 66, EVP_sha512},
    [MK_JWT_EDDSA] = {"EdDSA", "EdDsa", NULL, 64, 32, NULL},
};

const mk_jwt_alg_info_t *mk_jwt_alg_info(mk_jwt_alg_t alg) {
    return alg > MK_JWT_END && alg <= MK_JWT_EDDSA ? &ALGS[alg] : NULL;
}

const char *mk_jwt_alg_name(mk_jwt_alg_t alg) {
    const mk_jwt_alg_info_t *i = mk_jwt_alg_info(alg);
    return i ? i->name : NULL;
}

mk_jwt_alg_t mk_jwt_alg_from_name(const char *name, size_t len) {
    for (int a = MK_JWT_HS256; a <= MK_JWT_EDDSA; a++)
        if (strlen(ALGS[a].name) == len && memcmp(ALGS[a].name, name, len) == 0) return (mk_jwt_alg_t)a;
    if (len == 7 && memcmp(name, "Ed25519", 7) == 0) return MK_JWT_EDDSA;
    return MK_JWT_END;
}

static bool is_hs(mk_jwt_alg_t a) { return a == MK_JWT_HS256 || a == MK_JWT_HS384 || a == MK_JWT_HS512; }
static bool is_ec(mk_jwt_alg_t a) { return a >= MK_JWT_ES256 && a <= MK_JWT_ES512; }

void mk_jwt_key_free(mk_jwt_parsed_key_t *k) {
    if (!k) return;
    EVP_PKEY_free(k->pkey);
    if (k->secret) {
        OPENSSL_cleanse(k->secret, k->secret_len);
        free(k->secret);
    }
    memset(k, 0, sizeof *k);
}

/* ---- input forms ---- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The key's bytes for RAW and HEX forms into a malloc'd buffer (wiped by the caller). */
static int key_bytes(const mk_jwt_key_t *in, const char *alg, uint8_t **out, size_t *len, mk_error_t *e) {
    *out = NULL;
    *len = 0;
    if (!in->data) return MK_ERR(e, MK_EINVAL, "%s key: no data", alg);
    if (in->form == MK_KEY_RAW) {
        if (!in->len) return MK_ERR(e, MK_EINVAL, "%s key: empty", alg);
        if (!(*out = malloc(in->len))) return MK_ERR(e, MK_ENOMEM, "out of memory");
        memcpy(*out, in->data, in->len);
        *len = in->len;
        return MK_OK;
    }
    const char *h = in->data;
    size_t n = in->len ? in->len : strlen(h);
    if (n == 0 || n % 2) return MK_ERR(e, MK_EINVAL, "%s key: hex of odd or zero length (%zu digits)", alg, n);
    if (!(*out = malloc(n / 2))) return MK_ERR(e, MK_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(h[i]), lo = hexval(h[i + 1]);
        if (hi < 0 || lo < 0) {
            free(*out);
            *out = NULL;
            return MK_ERR(e, MK_EINVAL, "%s key: not hex at digit %zu", alg, hi < 0 ? i : i + 1);
        }
        (*out)[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return MK_OK;
}

static EVP_PKEY *pem_key(const mk_jwt_key_t *in, bool private_key) {
    const char *p = in->data;
    size_t n = in->len ? in->len : strlen(p);
    if (n > 16384) return NULL;
    BIO *bio = BIO_new_mem_buf(p, (int)n);
    if (!bio) return NULL;
    EVP_PKEY *k = private_key ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return k;
}

/* ---- normalising ---- */

/* EC: the compressed point of pkey into k->pub, after checking its group. */
static int ec_finish(mk_jwt_parsed_key_t *k, const mk_jwt_alg_info_t *info, mk_error_t *e) {
    char group[64] = "";
    size_t glen = 0;
    if (!EVP_PKEY_is_a(k->pkey, "EC") ||
        !EVP_PKEY_get_utf8_string_param(k->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen) ||
        OBJ_txt2nid(group) != OBJ_txt2nid(info->group))
        return MK_ERR(e, MK_EINVAL, "%s key: not a %s key", info->name, info->group);
    /* the point as OpenSSL holds it, re-encoded compressed */
    uint8_t raw[2 * 66 + 1];
    size_t raw_len = 0;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(OBJ_txt2nid(info->group));
    EC_POINT *pt = g ? EC_POINT_new(g) : NULL;
    bool ok = pt && EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, raw, sizeof raw, &raw_len) &&
              EC_POINT_oct2point(g, pt, raw, raw_len, NULL) &&
              (k->pub_len = EC_POINT_point2oct(g, pt, POINT_CONVERSION_COMPRESSED, k->pub, sizeof k->pub, NULL)) ==
                  info->field_len + 1;
    EC_POINT_free(pt);
    EC_GROUP_free(g);
    if (!ok) return MK_ERR(e, MK_EINVAL, "%s key: cannot encode its public point", info->name);
    return MK_OK;
}

static void fingerprint(mk_jwt_parsed_key_t *k, const mk_jwt_alg_info_t *info) {
    mk_id_t label = mk_id_from_str(info->label);
    k->fingerprint = is_hs(k->alg) ? mk_id_derive(&label, k->secret, k->secret_len) : mk_id_derive(&label, k->pub, k->pub_len);
}

static int hs_secret(mk_jwt_parsed_key_t *k, const mk_jwt_alg_info_t *info, uint8_t *b, size_t n, mk_error_t *e) {
    if (n < info->field_len || n > MK_JWT_HS_MAX_SECRET) {
        OPENSSL_cleanse(b, n);
        free(b);
        return MK_ERR(e, MK_EINVAL, "%s key: a secret of %zu bytes (needs %zu to %d)", info->name, n, info->field_len,
                      MK_JWT_HS_MAX_SECRET);
    }
    k->secret = b;
    k->secret_len = n;
    return MK_OK;
}

/* EC public point bytes (compressed or uncompressed) → key. */
static int ec_public_from_bytes(mk_jwt_parsed_key_t *k, const mk_jwt_alg_info_t *info, const uint8_t *b, size_t n,
                                mk_error_t *e) {
    bool compressed = n == info->field_len + 1 && (b[0] == 2 || b[0] == 3);
    bool uncompressed = n == 2 * info->field_len + 1 && b[0] == 4;
    if (!compressed && !uncompressed)
        return MK_ERR(e, MK_EINVAL, "%s key: %zu bytes is not a SEC1 point of %s", info->name, n, info->group);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)info->group, 0),
                           OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)b, n), OSSL_PARAM_END};
    int ok = ctx && EVP_PKEY_fromdata_init(ctx) > 0 && EVP_PKEY_fromdata(ctx, &k->pkey, EVP_PKEY_PUBLIC_KEY, params) > 0;
    EVP_PKEY_CTX_free(ctx);
    if (ok) {
        EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
        ok = chk && EVP_PKEY_public_check(chk) > 0;
        EVP_PKEY_CTX_free(chk);
    }
    if (!ok) return MK_ERR(e, MK_EINVAL, "%s key: not a point on %s", info->name, info->group);
    return ec_finish(k, info, e);
}

int mk_jwt_key_parse_public(const mk_jwt_key_t *in, mk_jwt_parsed_key_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    const mk_jwt_alg_info_t *info = in ? mk_jwt_alg_info(in->alg) : NULL;
    if (!info) return MK_ERR(e, MK_EINVAL, "key: unknown algorithm %d", in ? (int)in->alg : -1);
    if (in->form != MK_KEY_RAW && in->form != MK_KEY_HEX && in->form != MK_KEY_PEM)
        return MK_ERR(e, MK_EINVAL, "%s key: unknown form %d", info->name, (int)in->form);
    out->alg = in->alg;
    int rc = MK_OK;
    if (in->form == MK_KEY_PEM) {
        if (is_hs(in->alg)) return MK_ERR(e, MK_EINVAL, "%s key: an HMAC secret has no PEM form", info->name);
        if (!in->data || !(out->pkey = pem_key(in, false)))
            return MK_ERR(e, MK_EINVAL, "%s key: not a SubjectPublicKeyInfo PEM", info->name);
        if (is_ec(in->alg)) rc = ec_finish(out, info, e);
        else if (!EVP_PKEY_is_a(out->pkey, "ED25519") ||
                 !EVP_PKEY_get_raw_public_key(out->pkey, out->pub, &(size_t){32}))
            rc = MK_ERR(e, MK_EINVAL, "%s key: not an Ed25519 key", info->name);
        else
            out->pub_len = 32;
    } else {
        uint8_t *b;
        size_t n;
        if ((rc = key_bytes(in, info->name, &b, &n, e)) != MK_OK) return rc;
        if (is_hs(in->alg)) {
            rc = hs_secret(out, info, b, n, e);
            b = NULL;
        } else if (is_ec(in->alg)) {
            rc = ec_public_from_bytes(out, info, b, n, e);
        } else if (n != 32) {
            rc = MK_ERR(e, MK_EINVAL, "%s key: %zu bytes (an Ed25519 public key has 32)", info->name, n);
        } else if (!(out->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, b, 32))) {
            rc = MK_ERR(e, MK_EINVAL, "%s key: rejected by OpenSSL", info->name);
        } else {
            memcpy(out->pub, b, 32);
            out->pub_len = 32;
        }
        free(b);
    }
    if (rc != MK_OK) {
        mk_jwt_key_free(out);
        return rc;
    }
    fingerprint(out, info);
    return MK_OK;
}

/* EC private scalar → key pair (0 < d < n checked). */
static int ec_private_from_scalar(mk_jwt_parsed_key_t *k, const mk_jwt_alg_info_t *info, const uint8_t *b, size_t n,
                                  mk_error_t *e) {
    if (n != info->field_len)
        return MK_ERR(e, MK_EINVAL, "%s key: a scalar of %zu bytes (needs %zu)", info->name, n, info->field_len);
    int rc = MK_OK;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(OBJ_txt2nid(info->group));
    BIGNUM *d = BN_bin2bn(b, (int)n, NULL);
    EC_POINT *pt = g ? EC_POINT_new(g) : NULL;
    uint8_t pub[2 * 66 + 1];
    size_t pub_len = 0;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!g || !d || !pt || !bld) {
        rc = MK_ERR(e, MK_ENOMEM, "out of memory");
    } else if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0) {
        rc = MK_ERR(e, MK_EINVAL, "%s key: the scalar is 0 or not below the group order", info->name);
    } else if (!EC_POINT_mul(g, pt, d, NULL, NULL, NULL) ||
               !(pub_len = EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof pub, NULL)) ||
               !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, info->group, 0) ||
               !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
               !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len) ||
               !(params = OSSL_PARAM_BLD_to_param(bld)) || !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) ||
               EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &k->pkey, EVP_PKEY_KEYPAIR, params) <= 0) {
        rc = MK_ERR(e, MK_EIO, "%s key: OpenSSL could not build the key", info->name);
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EC_POINT_free(pt);
    BN_clear_free(d);
    EC_GROUP_free(g);
    return rc == MK_OK ? ec_finish(k, info, e) : rc;
}

static int ed_finish_private(mk_jwt_parsed_key_t *k, const mk_jwt_alg_info_t *info, mk_error_t *e) {
    size_t n = 32;
    if (!EVP_PKEY_is_a(k->pkey, "ED25519") || !EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &n) || n != 32)
        return MK_ERR(e, MK_EINVAL, "%s key: not an Ed25519 key", info->name);
    k->pub_len = 32;
    return MK_OK;
}

int mk_jwt_key_parse_private(const mk_jwt_key_t *in, mk_jwt_parsed_key_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    const mk_jwt_alg_info_t *info = in ? mk_jwt_alg_info(in->alg) : NULL;
    if (!info) return MK_ERR(e, MK_EINVAL, "key: unknown algorithm %d", in ? (int)in->alg : -1);
    if (in->form != MK_KEY_RAW && in->form != MK_KEY_HEX && in->form != MK_KEY_PEM)
        return MK_ERR(e, MK_EINVAL, "%s key: unknown form %d", info->name, (int)in->form);
    out->alg = in->alg;
    int rc = MK_OK;
    if (in->form == MK_KEY_PEM) {
        if (is_hs(in->alg)) return MK_ERR(e, MK_EINVAL, "%s key: an HMAC secret has no PEM form", info->name);
        if (!in->data || !(out->pkey = pem_key(in, true)))
            return MK_ERR(e, MK_EINVAL, "%s key: not a PKCS#8 private key PEM", info->name);
        rc = is_ec(in->alg) ? ec_finish(out, info, e) : ed_finish_private(out, info, e);
    } else {
        uint8_t *b;
        size_t n;
        if ((rc = key_bytes(in, info->name, &b, &n, e)) != MK_OK) return rc;
        if (is_hs(in->alg)) {
            rc = hs_secret(out, info, b, n, e);
            b = NULL;
        } else if (is_ec(in->alg)) {
            rc = ec_private_from_scalar(out, info, b, n, e);
        } else if (n != 32) {
            rc = MK_ERR(e, MK_EINVAL, "%s key: %zu bytes (an Ed25519 seed has 32)", info->name, n);
        } else if (!(out->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, b, 32))) {
            rc = MK_ERR(e, MK_EIO, "%s key: rejected by OpenSSL", info->name);
        } else {
            rc = ed_finish_private(out, info, e);
        }
        if (b) {
            OPENSSL_cleanse(b, n);
            free(b);
        }
    }
    if (rc != MK_OK) {
        mk_jwt_key_free(out);
        return rc;
    }
    fingerprint(out, info);
    return MK_OK;
}

int mk_jwt_key_generate(mk_jwt_alg_t alg, mk_jwt_parsed_key_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    const mk_jwt_alg_info_t *info = mk_jwt_alg_info(alg);
    if (!info) return MK_ERR(e, MK_EINVAL, "unknown algorithm %d", (int)alg);
    out->alg = alg;
    int rc = MK_OK;
    if (is_hs(alg)) {
        uint8_t *b = malloc(info->field_len);
        if (!b || RAND_bytes(b, (int)info->field_len) != 1) {
            free(b);
            return MK_ERR(e, MK_EIO, "the random generator failed");
        }
        rc = hs_secret(out, info, b, info->field_len, e);
    } else if (is_ec(alg)) {
        out->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", info->group);
        rc = out->pkey ? ec_finish(out, info, e) : MK_ERR(e, MK_EIO, "%s key generation failed", info->name);
    } else {
        out->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        rc = out->pkey ? ed_finish_private(out, info, e) : MK_ERR(e, MK_EIO, "Ed25519 key generation failed");
    }
    if (rc != MK_OK) {
        mk_jwt_key_free(out);
        return rc;
    }
    fingerprint(out, info);
    return MK_OK;
}

/* ---- signatures ---- */

bool mk_jwt_key_verify(const mk_jwt_parsed_key_t *k, const uint8_t *msg, size_t n, const uint8_t *sig, size_t sig_len) {
    const mk_jwt_alg_info_t *info = mk_jwt_alg_info(k->alg);
    if (!info || sig_len != info->sig_len) return false;
    if (is_hs(k->alg)) {
        uint8_t tag[EVP_MAX_MD_SIZE];
        unsigned int tag_len = 0;
        if (!HMAC(info->md(), k->secret, (int)k->secret_len, msg, n, tag, &tag_len) || tag_len != sig_len) return false;
        return CRYPTO_memcmp(tag, sig, sig_len) == 0;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return false;
    bool ok = false;
    if (is_ec(k->alg)) {
        /* raw r‖s → DER, with r and s in [1, n − 1] */
        EC_GROUP *g = EC_GROUP_new_by_curve_name(OBJ_txt2nid(info->group));
        BIGNUM *r = BN_bin2bn(sig, (int)info->field_len, NULL), *s = BN_bin2bn(sig + info->field_len, (int)info->field_len, NULL);
        ECDSA_SIG *es = ECDSA_SIG_new();
        uint8_t *der = NULL;
        int der_len = 0;
        if (g && r && s && es && !BN_is_zero(r) && !BN_is_zero(s) && BN_cmp(r, EC_GROUP_get0_order(g)) < 0 &&
            BN_cmp(s, EC_GROUP_get0_order(g)) < 0 && ECDSA_SIG_set0(es, r, s)) {
            r = s = NULL;  /* owned by es now */
            der_len = i2d_ECDSA_SIG(es, &der);
            ok = der_len > 0 && EVP_DigestVerifyInit(ctx, NULL, info->md(), NULL, k->pkey) == 1 &&
                 EVP_DigestVerify(ctx, der, (size_t)der_len, msg, n) == 1;
        }
        OPENSSL_free(der);
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        EC_GROUP_free(g);
    } else {
        ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 && EVP_DigestVerify(ctx, sig, sig_len, msg, n) == 1;
    }
    EVP_MD_CTX_free(ctx);
    return ok;
}

int mk_jwt_key_sign(const mk_jwt_parsed_key_t *k, const uint8_t *msg, size_t n, uint8_t *sig, size_t *sig_len,
                    mk_error_t *e) {
    const mk_jwt_alg_info_t *info = mk_jwt_alg_info(k->alg);
    if (!info) return MK_ERR(e, MK_EINVAL, "unknown algorithm");
    if (is_hs(k->alg)) {
        unsigned int len = 0;
        if (!HMAC(info->md(), k->secret, (int)k->secret_len, msg, n, sig, &len))
            return MK_ERR(e, MK_EIO, "%s: HMAC failed", info->name);
        *sig_len = len;
        return MK_OK;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return MK_ERR(e, MK_ENOMEM, "out of memory");
    int rc = MK_OK;
    if (is_ec(k->alg)) {
        uint8_t der[160];
        size_t der_len = sizeof der;
        ECDSA_SIG *es = NULL;
        const uint8_t *p = der;
        if (EVP_DigestSignInit(ctx, NULL, info->md(), NULL, k->pkey) != 1 ||
            EVP_DigestSign(ctx, der, &der_len, msg, n) != 1 || !(es = d2i_ECDSA_SIG(NULL, &p, (long)der_len))) {
            rc = MK_ERR(e, MK_EIO, "%s: signing failed", info->name);
        } else {
            const BIGNUM *r, *s;
            ECDSA_SIG_get0(es, &r, &s);
            if (BN_bn2binpad(r, sig, (int)info->field_len) < 0 || BN_bn2binpad(s, sig + info->field_len, (int)info->field_len) < 0)
                rc = MK_ERR(e, MK_EIO, "%s: signature does not fit", info->name);
            *sig_len = 2 * info->field_len;
        }
        ECDSA_SIG_free(es);
    } else {
        size_t len = 64;
        if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 || EVP_DigestSign(ctx, sig, &len, msg, n) != 1)
            rc = MK_ERR(e, MK_EIO, "EdDSA: signing failed");
        *sig_len = len;
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}
