/* mosaik/tickets.h — tickets and their validators (spec 60 §1–3, §11).
 *
 * A ticket is an opaque credential (class + bytes) a node publishes in its signed discovery entry;
 * a validator judges the tickets of one class (JWT here, TDX in tdx.h). Validators are pure: they
 * never read a clock or block, the caller passes now_ms. Owners (streams, groups, collections) apply
 * the rule of spec 60 §2.2 through mk_peer_entry_validate_all (discovery.h). */
#ifndef MOSAIK_TICKETS_H
#define MOSAIK_TICKETS_H

#include "mosaik/core.h"
#include "mosaik/id.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tickets ---- */

typedef int64_t mk_expiration_t;  /* Unix ms; expired at now iff expires <= now */
#define MK_EXPIRES_NEVER INT64_MAX

/* A ticket: `cls` names its scheme, data is opaque to discovery. Borrowed wherever it is an input;
 * its id is mk_id_derive(&cls, data, len), so equal tickets are one ticket. */
typedef struct mk_ticket {
    mk_id_t cls;
    const uint8_t *data;
    size_t len;
} mk_ticket_t;

/* A heap ticket owning a copy of data (≤ MK_TICKET_MAX_BYTES, else NULL + MK_E2BIG). Free with
 * mk_ticket_free (NULL ok). Any thread. */
mk_ticket_t *mk_ticket_new(const mk_id_t *cls, const void *data, size_t len, mk_error_t *e);
void mk_ticket_free(mk_ticket_t *t);
/* The ticket's id (mk_id_derive of class and data). Pure; any thread. */
mk_id_t mk_ticket_id(const mk_ticket_t *t);

/* ---- verdicts ---- */

typedef enum mk_ticket_reason {
    MK_TICKET_OK = 0,
    MK_TICKET_MISSING,         /* no ticket of the validator's class */
    MK_TICKET_MALFORMED,       /* undecodable, wrong types, unrepresentable numbers */
    MK_TICKET_UNSUPPORTED,     /* algorithm or feature not accepted (alg none, crit, confusion) */
    MK_TICKET_BAD_SIGNATURE,
    MK_TICKET_UNTRUSTED,
    MK_TICKET_REVOKED,
    MK_TICKET_POLICY,          /* a configured rule (missing exp, max_lifetime, max_age without iat) */
    MK_TICKET_NOT_YET_VALID,
    MK_TICKET_EXPIRED,
    MK_TICKET_CLAIM_MISMATCH,  /* iss, sub, aud or a required claim */
    MK_TICKET_BINDING,
    MK_TICKET_MEASUREMENT,
    MK_TICKET_INTERNAL,        /* allocation or library failure: not the peer's fault */
} mk_ticket_reason_t;
/* "ok", "missing", "malformed", … (static; "unknown" outside the enum). */
const char *mk_ticket_reason_str(mk_ticket_reason_t r);

typedef struct mk_ticket_verdict {
    bool valid;
    mk_expiration_t expires;   /* when valid */
    mk_ticket_reason_t reason; /* MK_TICKET_OK when valid */
    int code;                  /* validator-specific detail code (TDX: the failing check) */
    char detail[120];          /* short text naming the cause; never ticket bytes */
} mk_ticket_verdict_t;

/* ---- validators ---- */

typedef struct mk_peer_entry mk_peer_entry_t;  /* discovery.h */

/* What a validator knows of the peer whose ticket it judges. entry may be NULL (unit tests). */
typedef struct mk_ticket_peer {
    mk_id_t peer_id, network_id;
    const mk_peer_entry_t *entry;
} mk_ticket_peer_t;

/* The vtable of a validator kind. validate is pure, runs on a loop thread and must not block. */
typedef struct mk_ticket_validator_vt {
    const char *kind;                                        /* "jwt", "tdx", … */
    mk_id_t (*class_id)(const void *cfg);
    mk_id_t (*signature)(const void *cfg);
    int (*prepare)(const void *cfg, void **state, mk_error_t *e);  /* optional: parse keys once */
    void (*release)(void *state);                                  /* optional */
    void (*validate)(const void *cfg, void *state, const uint8_t *data, size_t len, const mk_ticket_peer_t *peer,
                     int64_t now_ms, mk_ticket_verdict_t *out);
} mk_ticket_validator_vt_t;

/* A validator: static (MK_TICKET_VALIDATOR / MK_JWT_VALIDATOR initialisers, heap_ NULL) or heap
 * (mk_jwt_validator_new, reference counted). heap_ is private. */
typedef struct mk_ticket_validator {
    const mk_ticket_validator_vt_t *vt;
    const void *cfg;
    void *heap_;
} mk_ticket_validator_t;
#define MK_TICKET_VALIDATOR(vt_, cfg_) { .vt = (vt_), .cfg = (cfg_), .heap_ = NULL }

/* Takes a reference (heap validators; a no-op for static ones) and returns v. Any thread. */
const mk_ticket_validator_t *mk_ticket_validator_ref(const mk_ticket_validator_t *v);
/* Drops a reference; the last one frees a heap validator (static: no-op). NULL ok. Any thread. */
void mk_ticket_validator_unref(const mk_ticket_validator_t *v);
/* The class of tickets v judges, and v's signature (spec 60 §2.3). Pure; any thread. */
mk_id_t mk_ticket_validator_class(const mk_ticket_validator_t *v);
mk_id_t mk_ticket_validator_signature(const mk_ticket_validator_t *v);
/* Checks v's configuration by preparing it: MK_OK, or MK_EINVAL naming the faulty setting. */
int mk_ticket_validator_check(const mk_ticket_validator_t *v, mk_error_t *e);
/* Judges one ticket's data at now_ms. Static validators are prepared for the call (a bad
 * configuration gives MK_TICKET_INTERNAL naming it); heap ones use their prepared state. Never
 * blocks; any thread. */
void mk_ticket_validate(const mk_ticket_validator_t *v, const uint8_t *data, size_t len, const mk_ticket_peer_t *peer,
                        int64_t now_ms, mk_ticket_verdict_t *out);

/* ---- JWT (spec 60 §3) ---- */

/* The JWT ticket class, mk_id_from_str("mosaik.tickets.jwt.v1"). */
mk_id_t mk_jwt_class(void);

typedef enum mk_jwt_alg {
    MK_JWT_END = 0,  /* ends a key list */
    MK_JWT_HS256, MK_JWT_HS384, MK_JWT_HS512, MK_JWT_ES256, MK_JWT_ES256K, MK_JWT_ES384, MK_JWT_ES512,
    MK_JWT_EDDSA,
} mk_jwt_alg_t;
/* "HS256", …, "EdDSA" (static; NULL outside the enum). */
const char *mk_jwt_alg_name(mk_jwt_alg_t alg);

typedef enum mk_key_form { MK_KEY_RAW = 0, MK_KEY_HEX, MK_KEY_PEM } mk_key_form_t;
/* A key: for validators the verifying key (HMAC secret, EC public point compressed or uncompressed,
 * Ed25519 public key; or an SPKI PEM), for signers the private key (secret, scalar, seed; or PKCS#8
 * PEM). len 0 = strlen(data) for HEX and PEM. */
typedef struct mk_jwt_key {
    mk_jwt_alg_t alg;
    mk_key_form_t form;
    const void *data;
    size_t len;
} mk_jwt_key_t;
#define MK_JWT_KEY_HEX(a, hex) { .alg = (a), .form = MK_KEY_HEX, .data = (hex), .len = 0 }
#define MK_JWT_KEY_RAW(a, p, n) { .alg = (a), .form = MK_KEY_RAW, .data = (p), .len = (n) }
#define MK_JWT_KEY_PEM(a, pem) { .alg = (a), .form = MK_KEY_PEM, .data = (pem), .len = 0 }

/* A claim value: validators compare STR/INT/BOOL; builders also take JSON (a JSON text). */
typedef enum { MK_JV_NONE = 0, MK_JV_STR, MK_JV_INT, MK_JV_BOOL, MK_JV_JSON } mk_jv_kind_t;
typedef struct mk_jwt_claim {
    const char *name;
    mk_jv_kind_t kind;
    const char *s;
    int64_t i;
    bool b;
} mk_jwt_claim_t;
#define MK_JWT_CLAIM_STR(n, v) { .name = (n), .kind = MK_JV_STR, .s = (v) }
#define MK_JWT_CLAIM_INT(n, v) { .name = (n), .kind = MK_JV_INT, .i = (v) }
#define MK_JWT_CLAIM_BOOL(n, v) { .name = (n), .kind = MK_JV_BOOL, .b = (v) }
#define MK_JWT_CLAIM_JSON(n, v) { .name = (n), .kind = MK_JV_JSON, .s = (v) }

enum { MK_JWT_MAX_KEYS = 8, MK_JWT_MAX_LIST = 8, MK_JWT_MAX_CLAIMS = 16, MK_JWT_MAX_TOKEN = 16384 };

/* Validator configuration (spec 60 §3.2). Lists end at the first NULL / MK_JWT_END / NULL name. */
typedef struct mk_jwt_config {
    mk_jwt_key_t keys[MK_JWT_MAX_KEYS];                            /* verifying keys, rotation order */
    const char *issuers[MK_JWT_MAX_LIST], *audiences[MK_JWT_MAX_LIST]; /* OR within each; none = unchecked */
    const char *subject;                                           /* NULL = the peer id as 64 hex */
    mk_jwt_claim_t claims[MK_JWT_MAX_CLAIMS];                      /* all required; STR/INT/BOOL */
    bool allow_non_expiring;
    uint64_t max_lifetime_s, max_age_s;                            /* 0 = unset */
} mk_jwt_config_t;

extern const mk_ticket_validator_vt_t mk_jwt_validator_vt;
/* A static JWT validator over *cfgp (which must outlive it). */
#define MK_JWT_VALIDATOR(cfgp) MK_TICKET_VALIDATOR(&mk_jwt_validator_vt, (cfgp))
/* A heap JWT validator holding a deep copy of c with its keys parsed; NULL + MK_EINVAL naming the
 * setting. Release with mk_ticket_validator_unref. Any thread. */
const mk_ticket_validator_t *mk_jwt_validator_new(const mk_jwt_config_t *c, mk_error_t *e);

/* A signing key. Free with mk_jwt_signer_free (wipes the secret). Any thread. */
typedef struct mk_jwt_signer mk_jwt_signer_t;
/* From a private key (RAW/HEX secret, scalar or seed; PKCS#8 PEM): NULL + MK_EINVAL naming the cause. */
mk_jwt_signer_t *mk_jwt_signer_new(const mk_jwt_key_t *private_key, mk_error_t *e);
/* A fresh random key of alg (HS: a secret of the digest's size). */
mk_jwt_signer_t *mk_jwt_signer_generate(mk_jwt_alg_t alg, mk_error_t *e);
mk_jwt_alg_t mk_jwt_signer_alg(const mk_jwt_signer_t *s);
/* The matching verifying key's raw bytes (EC: SEC1 compressed; Ed25519: 32 bytes; HS: the secret)
 * into out; returns the length (copied only when ≤ cap; at most 1024). */
size_t mk_jwt_signer_public(const mk_jwt_signer_t *s, uint8_t *out, size_t cap);
void mk_jwt_signer_free(mk_jwt_signer_t *s);

/* What to put in a token (spec 60 §3.4). Zero fields are absent; subject NULL = the peer id hex. */
typedef struct mk_jwt_builder {
    const mk_jwt_signer_t *signer;
    const char *issuer, *subject, *audience, *token_id;
    mk_expiration_t expires_at;   /* ms; MK_EXPIRES_NEVER = no exp; 0 = use expires_in_s */
    uint64_t expires_in_s;        /* relative to now; 0 (with expires_at 0) = no exp */
    int64_t issued_at_s;          /* 0 = now */
    int64_t not_before_s;         /* 0 = absent */
    mk_jwt_claim_t claims[MK_JWT_MAX_CLAIMS];  /* custom; registered names refused */
} mk_jwt_builder_t;
/* Builds and signs a token for peer (the default subject) at now_ms into *token (appended; NUL
 * terminated, not counted in len). MK_EINVAL names a bad option. Any thread. */
int mk_jwt_sign(const mk_jwt_builder_t *b, const mk_id_t *peer, int64_t now_ms, mk_buf_t *token, mk_error_t *e);
/* The same wrapped in a JWT-class ticket (*out: free with mk_ticket_free). */
int mk_jwt_build_ticket(const mk_jwt_builder_t *b, const mk_id_t *peer, int64_t now_ms, mk_ticket_t **out,
                        mk_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
