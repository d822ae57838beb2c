#!/usr/bin/env python3
"""Independent vectors for mk_tdx_criteria_signature (spec 60 §7), with a from-scratch BLAKE3 (inputs
here are below one 1024-byte chunk, so chunk chaining is not needed). H(s) = BLAKE3(s), D(id, b) =
BLAKE3(id || b). Prints C initialisers used by tests/unit/tee/test_tdx_measurement.c."""
IV = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]
PERM = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8]
M32 = 0xFFFFFFFF
CHUNK_START, CHUNK_END, ROOT = 1, 2, 8

def rotr(x, n): return ((x >> n) | (x << (32 - n))) & M32

def g(v, a, b, c, d, x, y):
    v[a] = (v[a] + v[b] + x) & M32; v[d] = rotr(v[d] ^ v[a], 16)
    v[c] = (v[c] + v[d]) & M32; v[b] = rotr(v[b] ^ v[c], 12)
    v[a] = (v[a] + v[b] + y) & M32; v[d] = rotr(v[d] ^ v[a], 8)
    v[c] = (v[c] + v[d]) & M32; v[b] = rotr(v[b] ^ v[c], 7)

def compress(cv, block, blen, counter, flags):
    m = [int.from_bytes(block[4 * i:4 * i + 4], 'little') for i in range(16)]
    v = cv[:] + IV[:4] + [counter & M32, counter >> 32, blen, flags]
    for r in range(7):
        g(v, 0, 4, 8, 12, m[0], m[1]); g(v, 1, 5, 9, 13, m[2], m[3])
        g(v, 2, 6, 10, 14, m[4], m[5]); g(v, 3, 7, 11, 15, m[6], m[7])
        g(v, 0, 5, 10, 15, m[8], m[9]); g(v, 1, 6, 11, 12, m[10], m[11])
        g(v, 2, 7, 8, 13, m[12], m[13]); g(v, 3, 4, 9, 14, m[14], m[15])
        m = [m[PERM[i]] for i in range(16)]
    return [v[i] ^ v[i + 8] for i in range(8)]

def blake3(data):
    assert len(data) <= 1024
    blocks = [data[i:i + 64] for i in range(0, len(data), 64)] or [b'']
    cv = IV[:]
    for i, b in enumerate(blocks):
        flags = (CHUNK_START if i == 0 else 0) | (CHUNK_END | ROOT if i == len(blocks) - 1 else 0)
        cv = compress(cv, b.ljust(64, b'\0'), len(b), 0, flags)
    return b''.join(w.to_bytes(4, 'little') for w in cv)

assert blake3(b'').hex() == 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'
assert blake3(bytes(i % 251 for i in range(1023))).hex().startswith('10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11')

def sig(regs):  # regs: 5 entries, bytes(48) or None for "any"
    s = blake3(b'mosaik.tee.tdx.measurements-criteria.v1')
    for i, r in enumerate(regs):
        s = blake3(s + (r if r is not None else bytes([[9, 1, 2, 3, 4][i]]) * 48))
    return s.hex()

mrtd = bytes.fromhex('91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7')
rtmr0 = bytes.fromhex('44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0')
print('any        ', sig([None] * 5))
print('mrtd       ', sig([mrtd, None, None, None, None]))
print('mrtd+rtmr0 ', sig([mrtd, rtmr0, None, None, None]))
print('rtmr3=0    ', sig([None, None, None, None, bytes(48)]))
print('all 09/01..', sig([bytes([9]) * 48, bytes([1]) * 48, bytes([2]) * 48, bytes([3]) * 48, bytes([4]) * 48]))
