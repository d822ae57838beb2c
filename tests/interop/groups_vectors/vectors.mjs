// tests/interop/groups_vectors/vectors.mjs — recomputes every value of tests/unit/groups_vectors.h from the
// definitions of spec 40 (§1 digest and GroupId chain, §8.3 sync signatures, §2.2 proofs and bond id)
// with an independent BLAKE3 (@noble/hashes). Run: npm ci && node vectors.mjs | diff - expected.txt
import { blake3 } from '@noble/hashes/blake3';
const te = new TextEncoder();
const hex = (u) => Buffer.from(u).toString('hex');
const cat = (...a) => { const n = a.reduce((s, x) => s + x.length, 0); const o = new Uint8Array(n); let p = 0; for (const x of a) { o.set(x, p); p += x.length; } return o; };
const u64 = (v) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); return b; };
const u32 = (v) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); return b; };
const idstr = (s) => /^[0-9a-fA-F]{64}$/.test(s) ? Uint8Array.from(Buffer.from(s, 'hex')) : blake3(te.encode(s));
const derive = (id, b) => blake3(cat(id, b));
const digest = (eo) => blake3(cat(te.encode('libmosaik/groups/v1'), u64(500), u64(150), u32(10), u32(5), new Uint8Array([eo ? 1 : 0]), u32(1 << 20), u32(eo ? 4096 : 0)));
const syncLR = derive(idstr('libmosaik/sync/log-replay'), cat(u64(2000), u64(25000)));
const syncSN = derive(idstr('libmosaik/sync/snapshot'), cat(u64(2000), u64(10000), u64(15000), u64(5000), u64(2000), u64(25000)));
let gid = blake3(idstr('test-group'));
gid = derive(gid, digest(false));
gid = derive(gid, idstr('mosaik_noop_state_machine'));
gid = derive(gid, syncLR);
const gidDefault = gid;
const gid2 = derive(derive(gid, idstr('validator-a')), idstr('validator-b'));
const K = idstr('bond-key');
const G = Uint8Array.from({length: 32}, (_, i) => i);
const E = Uint8Array.from({length: 32}, (_, i) => 0x40 + i);
const D = new Uint8Array(32).fill(0x11), A = new Uint8Array(32).fill(0x22);
const proof = (label) => blake3(cat(te.encode(label), G, E, D, A), { key: K });
console.log('GV_DIGEST_DEFAULT', hex(digest(false)));
console.log('GV_DIGEST_EXACTLY_ONCE', hex(digest(true)));
console.log('GV_SYNC_LOG_REPLAY', hex(syncLR));
console.log('GV_SYNC_SNAPSHOT', hex(syncSN));
console.log('GV_GROUP_ID_DEFAULT', hex(gidDefault));
console.log('GV_GROUP_ID_TWO_VALIDATORS', hex(gid2));
console.log('GV_PROOF_DIALER', hex(proof('mosaik/groups/1 proof from dialer')));
console.log('GV_PROOF_ACCEPTOR', hex(proof('mosaik/groups/1 proof from acceptor')));
console.log('GV_BOND_ID', hex(blake3(cat(te.encode('libmosaik/groups/bond-id'), E))));
