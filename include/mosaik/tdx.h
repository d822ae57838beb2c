/* mosaik/tdx.h — Intel TDX attestation: quotes, their full DCAP verification, TDX tickets, the Tdx
 * validator, quote providers (configfs-tsm and a test mock) and the network extension (spec 60 §4–9, §11).
 *
 * Built when the CMake option MK_WITH_TDX is on (the default; it needs MK_WITH_TEE). With TDX off this
 * header still compiles but the library has none of these symbols.
 *
 * Everything here is pure and thread-safe unless its comment says otherwise. Verification never reads a
 * clock: callers pass now. Quote generation blocks (the host's quote service can take seconds) and runs
 * on a process-wide worker thread; calls that wait take a timeout and return MK_EBUSY on a loop thread. */
#ifndef MOSAIK_TDX_H
#define MOSAIK_TDX_H

#include "mosaik/core.h"
#include "mosaik/id.h"
#include "mosaik/network.h"
#include "mosaik/tickets.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MK_TDX_MAX_QUOTE 32768

/* ---- measurements and criteria (§7) ---- */

typedef struct mk_measurement { uint8_t b[48]; } mk_measurement_t;
typedef struct mk_measurements { mk_measurement_t mrtd, rtmr[4]; } mk_measurements_t;
typedef enum mk_tdx_reg { MK_TDX_MRTD, MK_TDX_RTMR0, MK_TDX_RTMR1, MK_TDX_RTMR2, MK_TDX_RTMR3 } mk_tdx_reg_t;
#define MK_TDX_REG_BIT(r) (1u << (r))
#define MK_TDX_REG_ALL 0x1Fu

/* Parses exactly 96 hex digits (either case) into out. MK_EINVAL on anything else. */
int mk_measurement_from_hex(const char *hex, mk_measurement_t *out);
/* Writes 96 lowercase hex digits and a NUL. */
void mk_measurement_to_hex(const mk_measurement_t *m, char out[97]);
/* The register r of a measurement set (MRTD or RTMR0–3). */
const mk_measurement_t *mk_measurements_reg(const mk_measurements_t *m, mk_tdx_reg_t r);

/* Per register: "any" (bit clear) or the required value. Zero-initialised = matches everything. */
typedef struct mk_tdx_criteria { uint8_t required; mk_measurement_t value[5]; } mk_tdx_criteria_t;
#define MK_TDX_CRITERIA_ANY {0}
void mk_tdx_criteria_require(mk_tdx_criteria_t *c, mk_tdx_reg_t r, const mk_measurement_t *m);
/* Requires all five registers of m. */
void mk_tdx_criteria_from_measurements(mk_tdx_criteria_t *c, const mk_measurements_t *m);
/* True when every required register equals m's. */
bool mk_tdx_criteria_matches(const mk_tdx_criteria_t *c, const mk_measurements_t *m);
/* Rust-compatible signature of the criteria (fillers 09h, 01h…04h for "any"). */
mk_id_t mk_tdx_criteria_signature(const mk_tdx_criteria_t *c);

/* ---- quotes (§5) ---- */

/* A parsed quote. Fixed fields are copied; the pointers point into the caller's buffer, which must
 * outlive the struct. */
typedef struct mk_tdx_quote {
    uint16_t version, ak_type, body_type, qe_svn, pce_svn; /* body_type: 2 = TD 1.0, 3 = TD 1.5 (v4: 2) */
    uint32_t tee_type;
    size_t signed_len;                                      /* |S|: 632 (v4) or 54 + body size (v5) */
    size_t body_off;                                        /* 48 (v4) or 54 (v5) */
    uint8_t qe_vendor_id[16], user_data[20], tee_tcb_svn[16], mrseam[48], mrsignerseam[48],
        seam_attributes[8], td_attributes[8], xfam[8], mrconfigid[48], mrowner[48], mrownerconfig[48],
        report_data[64], tee_tcb_svn2[16], mrservicetd[48]; /* last two: TD report 1.5 only, else zero */
    mk_measurements_t m;
    const uint8_t *signature;       /* 64: r‖s over SHA-256(S) */
    const uint8_t *attestation_key; /* 64: x‖y */
    const uint8_t *qe_report;       /* 384: SGX report body */
    const uint8_t *qe_report_sig;   /* 64: r‖s by the PCK leaf */
    const uint8_t *qe_auth;         /* qe_auth_len bytes */
    const uint8_t *pck_pem;         /* pck_pem_len bytes; may end in NULs */
    size_t qe_auth_len, pck_pem_len;
} mk_tdx_quote_t;

/* Parses and bounds-checks a quote (no allocation, no crypto). MK_EPROTO on a malformed quote,
 * MK_ENOTSUP on an unsupported version / key / TEE / body type; msg names the field. */
int mk_tdx_quote_parse(const uint8_t *q, size_t len, mk_tdx_quote_t *out, mk_error_t *e);
/* True when the TDATTRIBUTES DEBUG bit is set. */
bool mk_tdx_quote_is_debug(const mk_tdx_quote_t *q);

/* ---- verification (§6) ---- */

typedef enum mk_tcb_status {
    MK_TCB_UP_TO_DATE, MK_TCB_SW_HARDENING_NEEDED, MK_TCB_CONFIGURATION_NEEDED,
    MK_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED, MK_TCB_OUT_OF_DATE, MK_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    MK_TCB_REVOKED, MK_TCB_UNKNOWN
} mk_tcb_status_t; /* value = severity */
#define MK_TCB_ACCEPT(s) (1u << (s))
#define MK_TCB_ACCEPT_DEFAULT 0x0Fu
/* "UpToDate", "SWHardeningNeeded", … as Intel spells them; "Unknown". */
const char *mk_tcb_status_str(mk_tcb_status_t s);

/* The verification steps in order (§6.2); a verdict's code is the first that failed. */
typedef enum mk_tdx_check {
    MK_TDX_CHK_OK, MK_TDX_CHK_DECODE, MK_TDX_CHK_PARSE, MK_TDX_CHK_VENDOR, MK_TDX_CHK_QUOTE_SIG,
    MK_TDX_CHK_QE_SIG, MK_TDX_CHK_QE_BINDING, MK_TDX_CHK_PCK_CHAIN, MK_TDX_CHK_COLLATERAL,
    MK_TDX_CHK_TD_ATTRIBUTES, MK_TDX_CHK_REPORT_DATA, MK_TDX_CHK_MEASUREMENTS, MK_TDX_CHK_PEER,
    MK_TDX_CHK_NETWORK, MK_TDX_CHK_MAX_AGE, MK_TDX_CHK_NOT_BEFORE, MK_TDX_CHK_LIFETIME, MK_TDX_CHK_EXPIRED
} mk_tdx_check_t;
/* "ok", "decode", "parse", "vendor", "quote_sig", … (static). */
const char *mk_tdx_check_str(mk_tdx_check_t c);

/* Trust settings; zero fields = defaults (Intel root, no collateral, MK_TCB_ACCEPT_DEFAULT). */
typedef struct mk_tdx_trust_config {
    const char *root_pem;        /* NULL = the built-in Intel SGX Root CA */
    const char *collateral_json; /* NULL = none (TCB and CRL checks skipped, status UNKNOWN) */
    uint32_t accept_tcb;         /* mask of MK_TCB_ACCEPT(s); 0 = MK_TCB_ACCEPT_DEFAULT; Revoked never */
    bool require_collateral, allow_debug;
} mk_tdx_trust_config_t;
typedef struct mk_tdx_trust mk_tdx_trust_t; /* reference counted, thread-safe */

/* A trust (root parsed, collateral parsed and checked for shape). NULL c = defaults. NULL + e on a bad
 * root or collateral. Free with mk_tdx_trust_free. Any thread. */
mk_tdx_trust_t *mk_tdx_trust_new(const mk_tdx_trust_config_t *c, mk_error_t *e);
/* Replaces the collateral (NULL json = none) atomically; running verifications finish with the old one.
 * Any thread. */
int mk_tdx_trust_set_collateral(mk_tdx_trust_t *t, const char *json, mk_error_t *e);
mk_tdx_trust_t *mk_tdx_trust_ref(mk_tdx_trust_t *t);
void mk_tdx_trust_free(mk_tdx_trust_t *t); /* drops a reference; NULL ok */
/* True when t is the default trust (Intel root, default mask, collateral optional, no debug). */
bool mk_tdx_trust_is_default(const mk_tdx_trust_t *t);
/* SHA-256 of the root certificate's DER. */
void mk_tdx_trust_root_fingerprint(const mk_tdx_trust_t *t, uint8_t out[32]);
/* The built-in Intel SGX Root CA as PEM (static). */
const char *mk_tdx_intel_root_pem(void);

/* Builds the collateral JSON (§6.1) from Intel PCS / PCCS responses: the TCB-info and QE-identity
 * bodies as served, their issuer-chain headers (URL-encoded or plain PEM), the DER CRLs and the PCK CRL
 * chain. The signed objects are cut out byte-exactly. Appends to json. */
int mk_tdx_collateral_from_pcs(const char *tcb_body, const char *tcb_chain, const char *qe_body,
                               const char *qe_chain, mk_bytes_t pck_crl, const char *pck_crl_chain,
                               mk_bytes_t root_crl, mk_buf_t *json, mk_error_t *e);

typedef struct mk_tdx_report {
    mk_tcb_status_t tcb;   /* MK_TCB_UNKNOWN without collateral */
    bool collateral_used;
    int64_t valid_until_s; /* min of chain notAfter and, with collateral, every nextUpdate */
    char advisories[512];  /* comma-separated advisory ids, no duplicates (whole ids dropped when full) */
} mk_tdx_report_t;

/* Verifies a raw quote: steps 2–8 of §6.2 (parse, vendor, quote and QE signatures, QE binding, PCK
 * chain, collateral) at now_s. MK_OK when genuine; else MK_EPROTO / MK_ENOTSUP / MK_EBADSIG / MK_EDENIED
 * (MK_ENOMEM when out of memory) with *failed = the failing step and msg naming the cause. A PEM
 * certificate that does not decode is a PARSE failure; every certificate of the quote must belong to the
 * verified chain. rep, failed and e may be NULL; rep is filled on failure too (what was learnt so far).
 * t NULL = default trust. Any thread. */
int mk_tdx_quote_verify(const uint8_t *q, size_t len, const mk_tdx_trust_t *t, int64_t now_s,
                        mk_tdx_report_t *rep, mk_tdx_check_t *failed, mk_error_t *e);
/* As mk_tdx_quote_verify, also giving the ticket reason the failure maps to (§6.2, §6.3: PARSE gives
 * MALFORMED or UNSUPPORTED, COLLATERAL one of five) when reason is non-NULL. */
int mk_tdx_quote_verify_ex(const uint8_t *q, size_t len, const mk_tdx_trust_t *t, int64_t now_s,
                           mk_tdx_report_t *rep, mk_tdx_check_t *failed, mk_ticket_reason_t *reason,
                           mk_error_t *e);

/* ---- TDX tickets (§4) ---- */

/* The class id H("mosaik.tee.tdx.ticket.v1"). */
mk_id_t mk_tdx_class(void);
typedef struct mk_tdx_extra {
    mk_id_t peer_id, network_id;
    int64_t started_at_s, quoted_at_s;
    mk_expiration_t expires; /* Unix seconds, or MK_EXPIRES_NEVER */
} mk_tdx_extra_t;
/* The extra signature whose 32 bytes (then 32 zeros) are the quote's REPORTDATA. */
mk_id_t mk_tdx_extra_signature(const mk_tdx_extra_t *x);
/* The REPORTDATA a quote for x must carry. */
void mk_tdx_extra_report_data(const mk_tdx_extra_t *x, uint8_t out[64]);

typedef struct mk_tdx_ticket mk_tdx_ticket_t;
/* Decodes a ticket of the TDX class (MK_EINVAL for another class); checks the REPORTDATA binding but
 * verifies no signature. *out owns a copy of the quote. */
int mk_tdx_ticket_from(const mk_ticket_t *t, mk_tdx_ticket_t **out, mk_error_t *e);
int mk_tdx_ticket_decode(const uint8_t *data, size_t len, mk_tdx_ticket_t **out, mk_error_t *e);
/* Encodes quote + extra into a new heap ticket (zstd level 3). The quote must parse and carry x's
 * REPORTDATA. */
int mk_tdx_ticket_make(const uint8_t *q, size_t len, const mk_tdx_extra_t *x, mk_ticket_t **out, mk_error_t *e);
const mk_tdx_quote_t *mk_tdx_ticket_quote(const mk_tdx_ticket_t *t);
const mk_tdx_extra_t *mk_tdx_ticket_extra(const mk_tdx_ticket_t *t);
uint64_t mk_tdx_ticket_uptime_s(const mk_tdx_ticket_t *t, int64_t now_ms);
void mk_tdx_ticket_free(mk_tdx_ticket_t *t);

/* ---- quote providers (§8) ---- */

typedef struct mk_tdx_provider mk_tdx_provider_t;
/* The Linux configfs-tsm provider; report_dir NULL = /sys/kernel/config/tsm/report. Never NULL
 * (availability is probed lazily). Free with mk_tdx_provider_free. */
mk_tdx_provider_t *mk_tdx_provider_configfs(const char *report_dir);
/* True when quotes can be made (probed once with a zero report data, then cached). Blocks up to
 * timeout_ms; false on a loop thread. */
bool mk_tdx_provider_available(mk_tdx_provider_t *p, int timeout_ms);
/* A fresh quote carrying rd as REPORTDATA, appended to q. Blocks up to timeout_ms (MK_ETIMEDOUT, the late
 * result is discarded); MK_EBUSY on a loop thread; MK_ENOTSUP outside TDX. */
int mk_tdx_provider_quote(mk_tdx_provider_t *p, const uint8_t rd[64], int timeout_ms, mk_buf_t *q, mk_error_t *e);
/* This machine's measurements, from a fresh quote. Blocks as mk_tdx_provider_quote. */
int mk_tdx_local_measurements(mk_tdx_provider_t *p, int timeout_ms, mk_measurements_t *out, mk_error_t *e);
void mk_tdx_provider_free(mk_tdx_provider_t *p); /* NULL ok; waits for its running request */

/* The mock provider: tests and demos only, never chosen implicitly. Quotes are structurally valid and
 * fully signed under a test PCK chain whose root only a trust configured with mk_tdx_mock_root_pem
 * accepts. Keys derive from cfg.seed, so processes sharing a seed share the root. */
typedef struct mk_tdx_mock_config {
    uint8_t seed[32];
    mk_measurements_t measurements;
    uint8_t tee_tcb_svn[16], td_attributes[8]; /* all-zero = defaults (SEPT_VE_DISABLE, DEBUG clear) */
    uint16_t quote_version, body_type;         /* 0 = v4; v5 with body type 2 or 3 */
} mk_tdx_mock_config_t;
typedef struct mk_tdx_mock mk_tdx_mock_t;
mk_tdx_mock_t *mk_tdx_mock_new(const mk_tdx_mock_config_t *c, mk_error_t *e);
/* The test root certificate (PEM, owned by m). */
const char *mk_tdx_mock_root_pem(const mk_tdx_mock_t *m);
/* A provider quoting with m (m must outlive it). Free with mk_tdx_provider_free. */
mk_tdx_provider_t *mk_tdx_mock_provider(mk_tdx_mock_t *m);
/* A quote made directly (no worker thread), appended to q. */
int mk_tdx_mock_quote(mk_tdx_mock_t *m, const uint8_t rd[64], mk_buf_t *q, mk_error_t *e);
/* Signed collateral matching m's quotes: TCB info giving status s, QE identity, CRLs (the PCK CRL lists
 * the leaf when revoke_leaf), all issued at issue_s and valid until next_update_s. Appends JSON to json. */
int mk_tdx_mock_collateral(mk_tdx_mock_t *m, mk_tcb_status_t s, int64_t issue_s, int64_t next_update_s,
                           bool revoke_leaf, mk_buf_t *json, mk_error_t *e);
void mk_tdx_mock_free(mk_tdx_mock_t *m);

/* ---- the Tdx validator (§7) ---- */

typedef struct mk_tdx_validator mk_tdx_validator_t; /* builder; not thread-safe until frozen */
mk_tdx_validator_t *mk_tdx_validator_new(void);     /* any genuine quote */
mk_tdx_validator_t *mk_tdx_validator_baseline(const mk_tdx_criteria_t *c);
/* Baseline = all five registers of this machine (one fresh quote). NULL + e outside TDX. Blocks. */
mk_tdx_validator_t *mk_tdx_validator_from_local(mk_tdx_provider_t *p, int timeout_ms, mk_error_t *e);
int mk_tdx_validator_require(mk_tdx_validator_t *v, mk_tdx_reg_t r, const mk_measurement_t *m);
int mk_tdx_validator_require_hex(mk_tdx_validator_t *v, mk_tdx_reg_t r, const char *hex, mk_error_t *e);
/* Requires the registers in regs (MK_TDX_REG_BIT mask) to equal this machine's. Blocks. */
int mk_tdx_validator_require_own(mk_tdx_validator_t *v, unsigned regs, mk_tdx_provider_t *p, int timeout_ms,
                                 mk_error_t *e);
#define mk_tdx_validator_require_mrtd(v, m) mk_tdx_validator_require((v), MK_TDX_MRTD, (m))
#define mk_tdx_validator_require_rtmr0(v, m) mk_tdx_validator_require((v), MK_TDX_RTMR0, (m))
#define mk_tdx_validator_require_rtmr1(v, m) mk_tdx_validator_require((v), MK_TDX_RTMR1, (m))
#define mk_tdx_validator_require_rtmr2(v, m) mk_tdx_validator_require((v), MK_TDX_RTMR2, (m))
#define mk_tdx_validator_require_rtmr3(v, m) mk_tdx_validator_require((v), MK_TDX_RTMR3, (m))
#define mk_tdx_validator_require_own_mrtd(v, p, t, e) \
    mk_tdx_validator_require_own((v), MK_TDX_REG_BIT(MK_TDX_MRTD), (p), (t), (e))
#define mk_tdx_validator_require_own_rtmr0(v, p, t, e) \
    mk_tdx_validator_require_own((v), MK_TDX_REG_BIT(MK_TDX_RTMR0), (p), (t), (e))
#define mk_tdx_validator_require_own_rtmr1(v, p, t, e) \
    mk_tdx_validator_require_own((v), MK_TDX_REG_BIT(MK_TDX_RTMR1), (p), (t), (e))
#define mk_tdx_validator_require_own_rtmr2(v, p, t, e) \
    mk_tdx_validator_require_own((v), MK_TDX_REG_BIT(MK_TDX_RTMR2), (p), (t), (e))
#define mk_tdx_validator_require_own_rtmr3(v, p, t, e) \
    mk_tdx_validator_require_own((v), MK_TDX_REG_BIT(MK_TDX_RTMR3), (p), (t), (e))
int mk_tdx_validator_allow_variant(mk_tdx_validator_t *v, const mk_tdx_criteria_t *c);
int mk_tdx_validator_max_age(mk_tdx_validator_t *v, uint64_t seconds);
int mk_tdx_validator_max_lifetime(mk_tdx_validator_t *v, uint64_t seconds);
int mk_tdx_validator_not_before(mk_tdx_validator_t *v, int64_t unix_s);
int mk_tdx_validator_trust(mk_tdx_validator_t *v, mk_tdx_trust_t *t); /* takes a reference */
/* Freezes the builder (setters then return MK_EBUSY) and returns its validator, owned by v (take a
 * reference with mk_ticket_validator_ref to keep it past mk_tdx_validator_free). */
const mk_ticket_validator_t *mk_tdx_validator_get(mk_tdx_validator_t *v);
void mk_tdx_validator_free(mk_tdx_validator_t *v);

/* Static form: hex strings (NULL = any), parsed when the validator is prepared. */
typedef struct mk_tdx_def_criteria { const char *mrtd, *rtmr0, *rtmr1, *rtmr2, *rtmr3; } mk_tdx_def_criteria_t;
typedef struct mk_tdx_def {
    mk_tdx_def_criteria_t baseline;
    const mk_tdx_def_criteria_t *variants;
    size_t n_variants;
    uint64_t max_age_s, max_lifetime_s; /* 0 = unset */
    int64_t not_before_s;               /* 0 = unset */
    const mk_tdx_trust_config_t *trust; /* NULL = default */
} mk_tdx_def_t;
extern const mk_ticket_validator_vt_t mk_tdx_validator_vt;
#define MK_TDX_VALIDATOR(defp) MK_TICKET_VALIDATOR(&mk_tdx_validator_vt, (defp))

/* ---- network extension (§9) ---- */

typedef struct mk_tdx_install {
    uint64_t lifetime_s;       /* 0 = never expiring */
    uint64_t refresh_margin_s; /* 0 = max(lifetime/5, 30 s), at most lifetime/2 */
    bool no_refresh;
} mk_tdx_install_t;

/* Whether the network's provider can quote (cached). Blocks up to timeout_ms. */
bool mk_tdx_available(mk_network_t *n, int timeout_ms);
/* A fresh TDX ticket for this node expiring at expires (Unix ms, or MK_EXPIRES_NEVER). Blocks. */
int mk_tdx_ticket(mk_network_t *n, mk_expiration_t expires, int timeout_ms, mk_ticket_t **out, mk_error_t *e);
/* Makes a ticket and puts it in this node's discovery entry, replacing earlier TDX tickets; with a
 * lifetime and refresh on, renews it before expiry. NULL o = never expiring. Blocks for the first quote. */
int mk_tdx_install_own_ticket(mk_network_t *n, const mk_tdx_install_t *o, int timeout_ms, mk_error_t *e);
int mk_tdx_measurements(mk_network_t *n, int timeout_ms, mk_measurements_t *out, mk_error_t *e);
int mk_tdx_measurement(mk_network_t *n, mk_tdx_reg_t r, int timeout_ms, mk_measurement_t *out, mk_error_t *e);
#define mk_tdx_mrtd(n, t, o, e) mk_tdx_measurement((n), MK_TDX_MRTD, (t), (o), (e))
#define mk_tdx_rtmr0(n, t, o, e) mk_tdx_measurement((n), MK_TDX_RTMR0, (t), (o), (e))
#define mk_tdx_rtmr1(n, t, o, e) mk_tdx_measurement((n), MK_TDX_RTMR1, (t), (o), (e))
#define mk_tdx_rtmr2(n, t, o, e) mk_tdx_measurement((n), MK_TDX_RTMR2, (t), (o), (e))
#define mk_tdx_rtmr3(n, t, o, e) mk_tdx_measurement((n), MK_TDX_RTMR3, (t), (o), (e))

#ifdef __cplusplus
}
#endif
#endif
