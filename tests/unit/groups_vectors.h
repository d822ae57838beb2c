/* unit/groups_vectors.h — frozen group identity and bond proof vectors (spec 40 §1, §2.2, §8.3, §11.3).
 * Computed once with this code, reviewed, then fixed: a change here changes every GroupId or breaks
 * bonds with older nodes. Review (2026-12-02): all nine recomputed from the spec's definitions with an
 * independent BLAKE3 (tests/interop/groups_vectors/, @noble/hashes 1.4.0) and equal. test_identity.c and test_bond_wire.c also rebuild the hashed byte strings by
 * hand, so the layout (labels, order, widths, endianness) is checked, not only self-consistency.
 *
 * Inputs:
 *   digests / sync signatures: MK_CONSENSUS_CONFIG_DEFAULT (± exactly_once = true), MK_SYNC_CONFIG_DEFAULT
 *     (kind LOG_REPLAY / SNAPSHOT);
 *   GroupIds: key mk_group_key_from_secret("test-group"), MK_GROUP_CONFIG_DEFAULT (NoOp machine), then
 *     two validators whose signatures are mk_id_from_str("validator-a") and ("validator-b"), in that order;
 *   proofs: key mk_group_key_from_secret("bond-key"), group_id bytes 00..1f, exporter bytes 40..5f,
 *     dialer 32 × 11, acceptor 32 × 22. */
#ifndef MK_TESTS_GROUPS_VECTORS_H
#define MK_TESTS_GROUPS_VECTORS_H

#define GV_DIGEST_DEFAULT "ccd25eabde846405c5f2b218fb03c461087b47f9a4f0ac884c1f94b6dd7f57ea"
#define GV_DIGEST_EXACTLY_ONCE "728bffb9178da9c0f250c4711c097a5b8d45da3422d781aaa4411fb76f92e6cb"
#define GV_SYNC_LOG_REPLAY "f0e1fccfcf118fcf6322d9ecc9d7371bc0b4849004e6e0c68fd9d788332e7702"
#define GV_SYNC_SNAPSHOT "1ff4c49eefc8bf8623c3cdede02ed1f85e1f28f6b2f04d2b15ca9eab0a7b5101"
#define GV_GROUP_ID_DEFAULT "b2f57c69e5e11504f45d2c3e0945513eea782302aaf6bf1a431c3c79fddfd0e2"
#define GV_GROUP_ID_TWO_VALIDATORS "d15eb585352687a34d3dcd760edabaeee931e7099a37f31309aff20e7b76a3a0"
#define GV_PROOF_DIALER "d7861963b130a8a899ea6227cccf8e700a10bf6856650947b128cf93d11fcde3"
#define GV_PROOF_ACCEPTOR "fff9ba41d116e3354f72eb35fc3a393e62fd6b7121b76777ccbe15cc679c7428"
#define GV_BOND_ID "b8638735513c2bf6ca4477dc3f0b4627f153f59b63394be5f37de6b9ef08d9e1"

#endif
