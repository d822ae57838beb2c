/* groups/identity.h — group identity (spec 40 §1, §8.3): the consensus digest, the sync signature and the
 * GroupId chain. The public parts (mk_group_key_*, mk_group_id_for) are in mosaik/groups.h; this header
 * gives the runtime and the tests the steps separately. Sans-I/O and pure; any thread. */
#ifndef MK_GROUPS_IDENTITY_H
#define MK_GROUPS_IDENTITY_H

#include "mosaik/groups.h"

/* Keeps our ids apart from the Rust crate's (whose Raft wire format differs). */
#define MK_GROUP_ID_VERSION "libmosaik/groups/v1"
/* Bytes hashed for the consensus digest: the version string (19) ‖ u64le ×2 ‖ u32le ×2 ‖ u8 ‖ u32le ×2. */
#define MK_GROUP_DIGEST_INPUT_LEN (sizeof MK_GROUP_ID_VERSION - 1 + 8 + 8 + 4 + 4 + 1 + 4 + 4)

/* consensus_digest = BLAKE3("libmosaik/groups/v1" ‖ u64le(heartbeat_interval_ms) ‖
 * u64le(heartbeat_jitter_ms) ‖ u32le(max_missed_heartbeats) ‖ u32le(max_voters) ‖ u8(exactly_once) ‖
 * u32le(max_command_bytes) ‖ u32le(exactly_once ? max_sessions : 0)). No validation. */
mk_id_t mk_group_consensus_digest(const mk_consensus_config_t *cc);

/* The sync signature of §8.3. LOG_REPLAY: derive(mk_id_from_str("libmosaik/sync/log-replay"),
 * u64le(replay_batch) ‖ u64le(replay_fetch_timeout_ms)). SNAPSHOT: derive(mk_id_from_str(
 * "libmosaik/sync/snapshot"), u64le(snapshot_batch) ‖ u64le(snapshot_ttl_ms) ‖
 * u64le(snapshot_request_timeout_ms) ‖ u64le(snapshot_fetch_timeout_ms) ‖ u64le(replay_batch) ‖
 * u64le(replay_fetch_timeout_ms)). sync_buffer_max_bytes is not part of it. MK_OK, or MK_EINVAL for an
 * unknown kind (*out zeroed). */
int mk_group_sync_signature(const mk_sync_config_t *sc, mk_id_t *out, mk_error_t *e);

/* The GroupId chain from its inputs:
 *     id = BLAKE3(key) → derive(id, consensus_digest(cc)) → derive(id, machine_sig) → derive(id, sync_sig)
 *        → derive(id, validators[i] signature) for i in 0..n
 * with derive(id, b) = BLAKE3(id ‖ b). cc is not validated here (mk_group_id_for does). MK_OK, or
 * MK_EINVAL naming a NULL argument / validators[i] (*out zeroed). */
int mk_group_id_derive(const mk_group_key_t *key, const mk_consensus_config_t *cc, const mk_id_t *machine_sig,
                       const mk_id_t *sync_sig, const mk_ticket_validator_t *const *validators, size_t n,
                       mk_id_t *out, mk_error_t *e);

#endif
