// tests/interop/jwt/interop.mjs — Node's jose as an independent JWT implementation for libmosaik's
// interop test: reads one JSON request per line on stdin, answers one JSON line each.
//   {"op":"sign","alg":A,"key":K,"claims":{…}}                  → {"token":T}
//   {"op":"verify","alg":A,"key":K,"token":T,"iss","aud","sub","now"} → {"ok":true} | {"ok":false,"error":E}
// K is {"pem": private or public PEM} or {"secret_hex": HMAC secret}.
import * as jose from 'jose';
import { createInterface } from 'node:readline';

async function keyOf(alg, k, priv) {
  if (k.secret_hex) return Uint8Array.from(Buffer.from(k.secret_hex, 'hex'));
  return priv ? jose.importPKCS8(k.pem, alg) : jose.importSPKI(k.pem, alg);
}

async function handle(req) {
  if (req.op === 'sign') {
    const key = await keyOf(req.alg, req.key, true);
    const token = await new jose.SignJWT(req.claims).setProtectedHeader({ alg: req.alg, typ: 'JWT' }).sign(key);
    return { token };
  }
  if (req.op === 'verify') {
    try {
      const key = await keyOf(req.alg, req.key, false);
      await jose.jwtVerify(req.token, key, {
        algorithms: [req.alg], issuer: req.iss, audience: req.aud, subject: req.sub,
        currentDate: new Date(req.now * 1000),
      });
      return { ok: true };
    } catch (e) {
      return { ok: false, error: String(e.code || e.message) };
    }
  }
  return { error: 'unknown op' };
}

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let out;
  try { out = await handle(JSON.parse(line)); } catch (e) { out = { error: String(e.message) }; }
  process.stdout.write(JSON.stringify(out) + '\n');
}
