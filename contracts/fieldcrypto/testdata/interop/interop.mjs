// Independent implementation of the sensitive-field encryption scheme
// (REFERENCE section 3), used by interop_test.go to cross-check the Go codec
// in both directions. Nothing here shares code with Go:
//
//   AES-256-CBC   Node's crypto (OpenSSL): aes-256-cbc with PKCS#7; RSA
//                 PKCS#1 v1.5 wrap via publicEncrypt(RSA_PKCS1_PADDING);
//                 unwrap via privateDecrypt(RSA_NO_PADDING) and the type-2
//                 padding parsed here (Node 20+ refuses PKCS#1 v1.5
//                 decryption, CVE-2023-46809; raw RSA is not affected).
//   SM4-GCM       the SM4 block cipher of sm-crypto (which has no GCM mode,
//                 and Node's OpenSSL 3.0 has no sm4-gcm), composed into GCM
//                 here per NIST SP 800-38D. The composition is proven on
//                 AES-128 against Node's native aes-128-gcm, and sm-crypto's
//                 SM4 block against Node's sm4-ecb when OpenSSL has it, in
//                 selfTest below.
//   SM2           sm-crypto's doEncrypt/doDecrypt, cipherMode 1 (C1C3C2),
//                 whose hex ciphertext has no 0x04 point prefix.
//
// stdin:  {rsa:{privatePem,publicPem}, sm2:{privateHex,publicHex},
//          samples:[{name,id_card}], goVectors:[{label,request,answer}]}
// stdout: {selfTest, decrypted:[{label,request,answer,error}],
//          nodeVectors:[{label,plain,request}],
//          sm2Generated:{privateHex,publicHex,plain,request}}
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import smCrypto from 'sm-crypto';

const { sm2, sm4 } = smCrypto;
const FIELDS = ['name', 'id_card'];

// ---- block ciphers -------------------------------------------------------

function sm4Block(key, block) {
  return Buffer.from(sm4.encrypt(Array.from(block), Array.from(key), { padding: 'none', output: 'array' }));
}

function aesBlock(key, block) {
  const c = crypto.createCipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

// ---- GCM (NIST SP 800-38D) over any 128-bit block cipher ---------------

const R = 0xe1n << 120n;
const toBig = (b) => BigInt('0x' + (b.length ? b.toString('hex') : '0'));
const toBuf = (x) => Buffer.from(x.toString(16).padStart(32, '0'), 'hex');

function gfMul(x, y) {
  let z = 0n;
  let v = y;
  for (let i = 127; i >= 0; i--) {
    if ((x >> BigInt(i)) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}

function ghash(h, aad, ct) {
  let y = 0n;
  const absorb = (data) => {
    for (let i = 0; i < data.length; i += 16) {
      const blk = Buffer.alloc(16);
      data.copy(blk, 0, i, Math.min(i + 16, data.length));
      y = gfMul(y ^ toBig(blk), h);
    }
  };
  absorb(aad);
  absorb(ct);
  const lens = Buffer.alloc(16);
  lens.writeBigUInt64BE(BigInt(aad.length * 8), 0);
  lens.writeBigUInt64BE(BigInt(ct.length * 8), 8);
  return gfMul(y ^ toBig(lens), h);
}

function counterBlock(j0, n) {
  const b = Buffer.from(j0);
  b.writeUInt32BE((j0.readUInt32BE(12) + n) >>> 0, 12);
  return b;
}

function gcmCore(block, key, iv, input, aad) {
  if (iv.length !== 12) throw new Error('GCM nonce must be 12 bytes here');
  const h = toBig(block(key, Buffer.alloc(16)));
  const j0 = Buffer.concat([iv, Buffer.from([0, 0, 0, 1])]);
  const out = Buffer.alloc(input.length);
  for (let i = 0; i < input.length; i += 16) {
    const ks = block(key, counterBlock(j0, i / 16 + 1));
    for (let j = i; j < Math.min(i + 16, input.length); j++) out[j] = input[j] ^ ks[j - i];
  }
  return { out, h, ekj0: block(key, j0) };
}

function gcmSeal(block, key, iv, pt, aad = Buffer.alloc(0)) {
  const { out: ct, h, ekj0 } = gcmCore(block, key, iv, pt, aad);
  const tag = toBuf(ghash(h, aad, ct) ^ toBig(ekj0));
  return { ct, tag };
}

function gcmOpen(block, key, iv, ct, tag, aad = Buffer.alloc(0)) {
  const { out: pt, h, ekj0 } = gcmCore(block, key, iv, ct, aad);
  const want = toBuf(ghash(h, aad, ct) ^ toBig(ekj0));
  if (tag.length !== 16 || !crypto.timingSafeEqual(want, tag)) throw new Error('GCM tag mismatch');
  return pt;
}

// ---- self test: proves the pieces above before they judge Go ------------

function selfTest() {
  const result = {};
  // GCM composition vs OpenSSL's AES-128-GCM, on lengths 0..40.
  for (let len = 0; len <= 40; len++) {
    const key = crypto.randomBytes(16);
    const iv = crypto.randomBytes(12);
    const pt = crypto.randomBytes(len);
    const ref = crypto.createCipheriv('aes-128-gcm', key, iv);
    const refCt = Buffer.concat([ref.update(pt), ref.final()]);
    const refTag = ref.getAuthTag();
    const mine = gcmSeal(aesBlock, key, iv, pt);
    if (!mine.ct.equals(refCt) || !mine.tag.equals(refTag)) throw new Error(`GCM composition differs from OpenSSL at length ${len}`);
    if (!gcmOpen(aesBlock, key, iv, mine.ct, mine.tag).equals(pt)) throw new Error('GCM open failed');
  }
  result.gcmCompositionVsOpenSSLAES = 'ok';
  // GB/T 32907 example 1 for sm-crypto's SM4 block.
  const k = Buffer.from('0123456789abcdeffedcba9876543210', 'hex');
  if (sm4Block(k, k).toString('hex') !== '681edf34d206965e86b3e94f536e4246') throw new Error('sm-crypto SM4 fails GB/T 32907');
  result.sm4KnownAnswer = 'ok';
  // sm-crypto's SM4 against OpenSSL's, where OpenSSL has it.
  if (crypto.getCiphers().includes('sm4-ecb')) {
    for (let i = 0; i < 8; i++) {
      const key = crypto.randomBytes(16);
      const blk = crypto.randomBytes(16);
      const c = crypto.createCipheriv('sm4-ecb', key, null);
      c.setAutoPadding(false);
      if (!Buffer.concat([c.update(blk), c.final()]).equals(sm4Block(key, blk))) throw new Error('sm-crypto SM4 differs from OpenSSL');
    }
    result.sm4VsOpenSSL = 'ok';
  } else {
    result.sm4VsOpenSSL = 'skipped: OpenSSL has no sm4-ecb';
  }
  result.node = process.version;
  return result;
}

// ---- key wrapping ---------------------------------------------------------

function rsaUnwrap(privatePem, blob) {
  const em = crypto.privateDecrypt({ key: privatePem, padding: crypto.constants.RSA_NO_PADDING }, blob);
  // EM = 0x00 || 0x02 || PS (>= 8 non-zero bytes) || 0x00 || M
  if (em[0] !== 0 || em[1] !== 2) throw new Error('RSA: bad PKCS#1 v1.5 type-2 header');
  const sep = em.indexOf(0, 2);
  if (sep < 10) throw new Error('RSA: bad PKCS#1 v1.5 padding string');
  return em.subarray(sep + 1);
}

function sm2Unwrap(privateHex, blob) {
  // sm-crypto wants X||Y||C3||C2 in hex; the standard layout has 0x04 first.
  let hex = blob.toString('hex');
  if (blob.length === 113) {
    if (blob[0] !== 0x04) throw new Error('SM2: 113-byte blob without 0x04');
    hex = hex.slice(2);
  } else if (blob.length !== 112) {
    throw new Error(`SM2: unexpected blob length ${blob.length}`);
  }
  const key = sm2.doDecrypt(hex, privateHex, 1, { output: 'array' });
  if (!key || key.length !== 16) throw new Error('SM2: decryption failed');
  return Buffer.from(key);
}

// ---- the encryption object -------------------------------------------------

function decryptObject(obj, key) {
  const enc = obj.encryption;
  const iv = Buffer.from(enc.iv, 'base64');
  const out = {};
  enc.encrypt_list.forEach((f, i) => {
    if (!FIELDS.includes(f)) throw new Error(`field ${f} may not be encrypted`);
    const ct = Buffer.from(obj[f], 'base64');
    let pt;
    if (enc.algorithm === 'AES-256-CBC') {
      if (iv.length !== 16) throw new Error('AES-256-CBC IV must be 16 bytes');
      const d = crypto.createDecipheriv('aes-256-cbc', key, iv);
      pt = Buffer.concat([d.update(ct), d.final()]);
    } else if (enc.algorithm === 'SM4-GCM') {
      if (iv.length !== 12) throw new Error('SM4-GCM nonce must be 12 bytes');
      pt = gcmOpen(sm4Block, key, iv, ct, Buffer.from(enc.tag_list[i], 'base64'));
    } else {
      throw new Error(`algorithm ${enc.algorithm}`);
    }
    out[f] = pt.toString('utf8');
  });
  return out;
}

function unwrap(input, enc) {
  const blob = Buffer.from(enc.ciphertext_blob, 'base64');
  if (enc.algorithm === 'AES-256-CBC') return rsaUnwrap(input.rsa.privatePem, blob);
  return sm2Unwrap(input.sm2.privateHex, blob);
}

function sealRequest(input, alg, plain, list, sm2Prefix) {
  const keyLen = alg === 'AES-256-CBC' ? 32 : 16;
  const key = crypto.randomBytes(keyLen);
  const iv = crypto.randomBytes(alg === 'AES-256-CBC' ? 16 : 12);
  const req = { ...plain };
  const enc = { encrypt_list: list, iv: iv.toString('base64'), algorithm: alg };
  if (alg === 'AES-256-CBC') {
    enc.ciphertext_blob = crypto
      .publicEncrypt({ key: input.rsa.publicPem, padding: crypto.constants.RSA_PKCS1_PADDING }, key)
      .toString('base64');
    for (const f of list) {
      const c = crypto.createCipheriv('aes-256-cbc', key, iv);
      req[f] = Buffer.concat([c.update(plain[f], 'utf8'), c.final()]).toString('base64');
    }
  } else {
    const hex = sm2.doEncrypt(Array.from(key), input.sm2.publicHex, 1);
    enc.ciphertext_blob = Buffer.from((sm2Prefix ? '04' : '') + hex, 'hex').toString('base64');
    enc.tag_list = [];
    for (const f of list) {
      const { ct, tag } = gcmSeal(sm4Block, key, iv, Buffer.from(plain[f], 'utf8'));
      req[f] = ct.toString('base64');
      enc.tag_list.push(tag.toString('base64'));
    }
  }
  req.encryption = enc;
  return req;
}

// ---- main -----------------------------------------------------------------

const input = JSON.parse(readFileSync(0, 'utf8'));
const output = { selfTest: selfTest(), decrypted: [], nodeVectors: [] };

for (const v of input.goVectors) {
  const r = { label: v.label };
  try {
    const key = unwrap(input, v.request.encryption);
    r.request = decryptObject(v.request, key);
    if (v.answer) r.answer = decryptObject(v.answer, key);
  } catch (e) {
    r.error = String(e && e.message ? e.message : e);
  }
  output.decrypted.push(r);
}

const lists = [['name', 'id_card'], ['id_card', 'name'], ['id_card']];
input.samples.forEach((plain, i) => {
  const list = lists[i % lists.length];
  output.nodeVectors.push({ label: `node AES-256-CBC #${i}`, plain, request: sealRequest(input, 'AES-256-CBC', plain, list) });
  output.nodeVectors.push({ label: `node SM4-GCM bare #${i}`, plain, request: sealRequest(input, 'SM4-GCM', plain, list, false) });
  output.nodeVectors.push({ label: `node SM4-GCM 04-prefixed #${i}`, plain, request: sealRequest(input, 'SM4-GCM', plain, list, true) });
});

// A key pair made by sm-crypto, in its hex forms, and a request sealed for
// it: Go must read the keys as SDK users hand them over.
const gen = sm2.generateKeyPairHex();
output.sm2Generated = {
  privateHex: gen.privateKey,
  publicHex: gen.publicKey,
  plain: input.samples[0],
  request: sealRequest({ ...input, sm2: { publicHex: gen.publicKey } }, 'SM4-GCM', input.samples[0], ['name', 'id_card'], false),
};

process.stdout.write(JSON.stringify(output));
