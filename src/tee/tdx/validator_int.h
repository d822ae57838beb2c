/* tee/tdx/validator_int.h — internals of the Tdx validator shared by validator.c (checks, signature,
 * cache, heap and static validators), validator_def.c (mk_tdx_def_t → configuration) and builder.c (the
 * mk_tdx_validator_t builder). */
#ifndef MK_TEE_TDX_VALIDATOR_INT_H
#define MK_TEE_TDX_VALIDATOR_INT_H

#include "tee/tdx/tdx_int.h"

#define TDX_CACHE_SIZE 64u

/* Everything a verdict depends on (spec 60 §7). */
typedef struct tdx_conf {
    mk_tdx_criteria_t baseline;
    mk_tdx_criteria_t *variants; /* heap array; NULL when none */
    size_t n_variants;
    uint64_t max_age_s, max_lifetime_s; /* 0 = unset */
    int64_t not_before_s;               /* 0 = unset */
    mk_tdx_trust_t *trust;              /* a held reference; NULL = the default trust */
} tdx_conf_t;

typedef struct tdx_cache tdx_cache_t;

/* A prepared validator: its configuration and the cache of verified quotes. */
typedef struct tdx_state {
    tdx_conf_t conf;
    tdx_cache_t *cache;
} tdx_state_t;

/* Frees the variants, drops the trust reference and zeroes c. */
void tdx_conf_clear(tdx_conf_t *c);
/* Appends a variant; MK_ENOMEM. */
int tdx_conf_add_variant(tdx_conf_t *c, const mk_tdx_criteria_t *v);
/* The validator signature (§7), with the trust line only for a non-default trust. */
mk_id_t tdx_conf_signature(const tdx_conf_t *c);
/* Parses a static definition: hex strings (MK_EINVAL naming the field), trust made from def->trust
 * (with its collateral when with_collateral, which the signature does not need). */
int tdx_conf_from_def(const mk_tdx_def_t *def, bool with_collateral, tdx_conf_t *out, mk_error_t *e);

tdx_cache_t *tdx_cache_new(void);
void tdx_cache_free(tdx_cache_t *c);
/* Outcomes held in s's cache (tests). */
size_t tdx_cache_count(const tdx_state_t *s);

/* A state taking over c's contents (c is zeroed); NULL on allocation failure (c untouched). */
tdx_state_t *tdx_state_new(tdx_conf_t *c);
void tdx_state_free(tdx_state_t *s);
/* §6.2 steps 1–16. */
void tdx_validate_state(tdx_state_t *s, const uint8_t *data, size_t len, const mk_ticket_peer_t *peer,
                        int64_t now_ms, mk_ticket_verdict_t *out);
/* A heap validator (refs 1) over a state taking over c; NULL on allocation failure (c untouched). */
const mk_ticket_validator_t *tdx_heap_validator_new(tdx_conf_t *c);

#endif
