// Package fieldcrypto is the codec of the check API's sensitive-field
// encryption object (contracts.Encryption), both
// algorithms, both directions: a client seals name and id_card for a
// receiver's public key, the receiver opens them with its private keys and
// seals the answer's fields with the client's data key and IV.
//
// # API
//
// Client side (a test client, the gateway towards the upstream):
//
//	to, err := fieldcrypto.LoadRecipient("file:/etc/idgate/upstream-sm2.pub") // or NewRecipient(pub)
//	sess, err := fieldcrypto.NewSession(to)            // fresh data key + IV, wrapped for to
//	sealed, enc, err := sess.Seal(fields, fieldcrypto.AllFields)
//	// or, on a whole request: sess, err := fieldcrypto.SealRequest(&req, to, fieldcrypto.AllFields)
//	// many requests to one receiver, reusing a wrapped key within bounds ("Data-key reuse"):
//	sealer, err := fieldcrypto.NewSealer(to, fieldcrypto.ReusePolicy{Messages: 4096, MaxAge: time.Minute})
//	sess, err := sealer.SealRequest(&req, fieldcrypto.AllFields) // fresh IV every time
//	plain, err := sess.Open(answerEnc, answerFields)   // the answer, same key
//
// Receiver side (the simulator, the gateway in terminate mode):
//
//	keys, err := fieldcrypto.LoadPrivateKeys("env:IDGATE_RSA_KEY", "file:/keys/sm2-new.pem", "file:/keys/sm2-old.pem")
//	ring, err := fieldcrypto.NewKeyring(fieldcrypto.NewKeyCache(10000, 5*time.Minute), keys...)
//	plain, sess, err := ring.Open(req.Encryption, fieldcrypto.Fields{Name: req.Name, IDCard: req.IDCard})
//	// or in place: sess, err := ring.OpenRequest(&req)  (sess == nil: not encrypted)
//	if err != nil {
//		rej := fieldcrypto.Rejection(err) // 400 token_mismatched + safe message; never billed
//	}
//	rej := sess.MaskRejection(contracts.Validate(&req, now)) // see "Padding oracle" below
//	answerFields, answerEnc, err := sess.Seal(plainAnswerFields, sess.Fields())
//
// The simulator's keys: EnsureKeyFile(path, AES256CBC) and
// EnsureKeyFile(path, SM4GCM) create PEM files (0600) on first run and load
// them afterwards; serve ring.PublicKeys() through MarshalPublicKeyPEM.
//
// The gateway per mode: passthrough does not use this package. terminate
// opens with its own Keyring (ring.OpenRequest), validates, caches and
// bills on the plaintext held in memory, re-seals for the upstream with
// a Sealer's SealRequest(&upReq, sess.Fields()) (a gateway data key, reused
// within bounds, and a fresh IV: the client's key is never sent onwards),
// opens the upstream's answer with that upstream session and seals it for
// the client with sess.Seal. encrypt-upstream only does the SealRequest /
// upstream-session Open half.
//
// Keyring, Session, Recipient, Sealer and KeyCache are safe for concurrent use.
// A Keyring is immutable: rotate keys (or reload files) by building a new
// one and swapping it atomically.
//
// # Errors
//
// Every error of Open is an *Error with a Kind; sentinels match with
// errors.Is. Every one is answered with HTTP 400 and the API's code
// token_mismatched ("missing or invalid parameters"), never billed;
// Rejection does that mapping and returns contracts.ErrAPIError (500) for
// anything else, which only a broken random source can cause. The table
// is complete: every message below is the whole text of an answer's
// error.message, and no other message about the encryption object ever
// reaches a client (TestErrorTable holds the code to it).
//
//	sentinel                  kind (metric label)    message to the client
//	ErrUnsupportedAlgorithm   unsupported_algorithm  encryption.algorithm is not supported (AES-256-CBC or SM4-GCM)
//	ErrFieldNotAllowed        field_not_allowed      encryption.encrypt_list: unsupported field to encrypt (name and id_card only, each at most once)
//	ErrInvalidBase64          invalid_base64         encryption.iv is not valid base64
//	                                                 encryption.ciphertext_blob is not valid base64
//	                                                 encryption.tag_list is not valid base64
//	                                                 name is not valid base64
//	                                                 id_card is not valid base64
//	ErrIVLength               iv_length              encryption.iv must be 16 bytes for AES-256-CBC and 12 bytes for SM4-GCM
//	ErrTagList                tag_list               encryption.tag_list must hold one 16-byte tag per encrypt_list entry, in the same order (SM4-GCM only)
//	ErrNotEnabled             not_enabled            encryption is not enabled here: send name and id_card in plain, without the encryption object
//	ErrBlob      (decrypt)    blob                   encryption: decrypt failure
//	ErrUnwrap    (decrypt)    unwrap                 encryption: decrypt failure
//	ErrPadding   (decrypt)    padding                encryption: decrypt failure
//	ErrTagMismatch (decrypt)  tag_mismatch           encryption: decrypt failure
//	ErrPlaintext (decrypt)    plaintext              encryption: decrypt failure
//
// ErrNotEnabled is the answer of a receiver that holds no private keys
// (a gateway route in encrypt-upstream mode without private_keys, the
// simulator with encryption off), to an encrypted request and to GET
// /encryption/public-keys (there as 400 api_not_implemented): no algorithm
// would be accepted, so "not supported" would mislead. A receiver with
// keys for one algorithm only answers ErrUnsupportedAlgorithm for the
// other.
//
// The object's shape is checked earlier, when the body is decoded
// (contracts.DecodeCheckRequest), with these messages, also 400
// token_mismatched:
//
//	shape                                            message to the client
//	encryption is not an object                      field encryption must be an object
//	encrypt_list or tag_list is not an array         field encryption.encrypt_list must be an array of strings
//	  of strings                                     field encryption.tag_list must be an array of strings
//	another member is not a string                   field encryption.ciphertext_blob must be a string
//	                                                 field encryption.iv must be a string
//	                                                 field encryption.algorithm must be a string
//	encrypt_list is empty                            encryption.encrypt_list must name at least one field
//	a member is missing or empty                     missing required field encryption.ciphertext_blob
//	                                                 missing required field encryption.iv
//	                                                 missing required field encryption.algorithm
//
// The rules of every body (one value per key, exact field names) apply
// inside the object too and answer with the body's own messages.
//
// ErrDecrypt matches all five decrypt kinds. Error() is the client text,
// identical for every decrypt failure; Detail() tells the kinds apart for
// logs and metrics, which the client never sees. Structural checks (all but
// the decrypt kinds) run before any private-key operation, so a malformed
// object costs no RSA or SM2 work.
//
// "Wrong blob" versus "wrong key": SM2 authenticates the wrapped key (C3),
// so a blob for another key or an altered one is ErrUnwrap. RSA PKCS#1 v1.5
// cannot be told apart safely: the receiver uses the standard library's
// rsa.DecryptPKCS1v15SessionKey, which leaves a substitute key in place of
// a badly padded one, so a wrong RSA key or blob shows as ErrPadding or
// ErrPlaintext (the fields do not decrypt). The substitute is derived from
// the blob with a secret of the private key (implicit rejection, as in
// draft-irtf-cfrg-rsa-guidance) rather than drawn at random: a random one
// would differ between two submissions of one blob while a real key would
// not, which is itself an oracle. Only public properties give ErrBlob
// (length differs from every key's modulus size, value above the modulus).
//
// # Wire format (decisions)
//
//   - Base64 is the standard alphabet with padding (RFC 4648 section 4), as
//     Node's Buffer and Java's Base64.getEncoder write it. Line breaks are
//     tolerated; URL-safe or unpadded base64 is ErrInvalidBase64.
//   - A field's plaintext is its UTF-8 bytes; GCM uses no additional data
//     and 16-byte tags; the field carries the ciphertext without its tag,
//     tag_list the tags in encrypt_list order. encrypt_list order is the
//     client's, and an answer keeps it: a receiver's Session.Seal of the
//     request's fields lists them, and their tags, in the request's order
//     (a client reading tags in its own order must get each field's own
//     tag). A session this package draws (NewSession) emits name before
//     id_card.
//   - RSA: PKCS#1 v1.5 type 2 wrapping of the 32-byte key; the blob is as
//     long as the modulus. Receiver keys are at least 2048 bits.
//   - SM2 (GB/T 32918.4, SM3 KDF and hash), C1C3C2 order. This package
//     emits C1 with its 0x04 prefix: 0x04||X||Y||C3||C2, 113 bytes, the
//     standard's point encoding and what gmsm, BouncyCastle and Hutool
//     write. The sm-crypto npm package writes and reads hex without the
//     0x04 (X||Y||C3||C2, 112 bytes); Open accepts that too, as well as a
//     compressed C1 (81 bytes) and the ASN.1 DER form of GM/T 0009. The
//     layout is told by length, unambiguous for a 16-byte key. For a
//     receiver that only reads sm-crypto's layout, use
//     Recipient.WithSM2Encoding(SM2Bare). C1C2C3 (the 2010 draft order) is
//     rejected (ErrUnwrap). The interop test proves both layouts each way.
//
// # Nonce and IV reuse (decision)
//
// The scheme encrypts every field of a request, and those of its answer,
// under one data key and one IV. For AES-256-CBC that makes encryption
// deterministic per request (equal plaintexts give equal ciphertexts). For
// SM4-GCM it is nonce reuse, which GCM does not survive: the XOR of two
// fields' ciphertexts is the XOR of their plaintexts (an ID number's
// structure is largely guessable, so a name leaks in part to whoever sees
// two ciphertexts of one request), and two tags under one nonce reveal the
// GHASH key, after which tags for that key and nonce can be forged.
//
// Deriving a distinct nonce per field would avoid it, but the receiver
// would then fail to decrypt anything a client following the scheme sent,
// and the authority would fail to decrypt what we send. Interoperability
// wins: this package follows the scheme exactly. What limits the damage:
// every Session this package creates draws a fresh random IV, and
// NewSession a fresh data key too, so the reuse never spans requests, only
// the (at most four) fields of one request and its answer (a Sealer's
// reused key keeps that property up to a negligible nonce-collision
// probability, see "Data-key reuse"); an answer that echoes the request's values with the
// request's key and nonce produces the request's own ciphertexts and tags
// and so reveals nothing new, which is why the answer should echo exactly
// the values received; and the whole exchange runs inside TLS, so the exposure
// is to parties that see decrypted HTTP bodies (proxies, body logs), which
// is what the field encryption was meant to cover. Answers with sensitive
// fields that differ from the request's widen the exposure; avoid them.
//
// # Padding oracle (AES-256-CBC)
//
// CBC has no integrity check. Someone holding a captured request can replay
// it with a modified IV: a valid padding then decrypts to a name or ID that
// validation rejects (result -3 or -2), while invalid padding is a decrypt
// failure; that difference is Vaudenay's padding oracle and recovers a
// one-block name byte by byte. Decrypt failures are already uniform;
// Session.MaskRejection also answers -2/-3 about an encrypted field with
// the decrypt failure for CBC sessions. Callers should apply it to the
// result of contracts.Validate. The key cache adds no signal (see below).
// The remaining signal is timing within the request (valid padding goes on
// to validation, microseconds); rate limits bound the number of probes.
//
// # Unwrapped-key cache (decision)
//
// The private-key operation dominates the cost of an encrypted request
// (RSA-2048 about 1 ms, SM2 about 0.1 ms; the symmetric work is a few
// microseconds). KeyCache keeps unwrapped data keys, bounded (LRU) and for
// a fixed time from insertion, keyed by SHA-256 of the ring's fingerprint,
// the algorithm and the blob, so a client that reuses a wrapped key skips
// the unwrap.
//
// Rule: whether a blob is (or becomes) cached depends on the blob alone. A
// key enters the cache as soon as it is unwrapped, before any field is
// touched, whether the fields then decrypt or not. Were it cached only
// after the fields decrypted, a later request with the same blob would be
// a full unwrap faster exactly when the earlier one's CBC padding was
// valid, and that timing is Vaudenay's padding oracle again (a replay with
// a tampered IV, then the original, tells valid from invalid padding, and
// evicting the entry between probes repeats the signal on one captured
// blob). What can keep a blob out: a public property of the blob (an RSA
// value above the modulus) or an SM2 unwrap failure, which SM2's C3 check
// decides from the blob alone. With several RSA keys of the blob's size
// (a rotation) every one of them unwraps the blob on a miss and all the
// candidate keys are cached together, so the number of private-key
// operations does not depend on which key the fields decrypt with either.
//
// The alternative, not caching CBC keys at all, closes the channel too but
// gives up the cache for AES-256-CBC: measured on 2 shared cores, Open with
// a cache hit costs about 2 µs (AES-256-CBC) and 3.5 µs (SM4-GCM) against
// about 1.2 ms and 65 µs for an unwrap, so a client reusing a wrapped RSA
// key would pay some 600 times more per request. Caching on unwrap keeps
// that, at no cost to the miss path, so it is this package's choice.
//
// With implicit rejection the unwrap of a blob is deterministic, so a hit
// gives exactly what a miss would: the cache changes timing, never
// answers, and a cached key does not make tampered fields decrypt. A hit
// tells a prober only that the blob was sent before, which a prober who
// holds the blob already knows. A cache shared by keyrings cannot open a
// blob for a key a ring does not hold.
//
// # Data-key reuse (Sealer)
//
// Wrapping a data key costs a public-key operation per request: about
// 85 µs for SM2 (more than the receiver's unwrap), about 35 µs for RSA.
// A Sealer, for a sender of many requests to one receiver (the gateway
// towards the upstream), reuses one wrapped key in the manner of the AWS
// Encryption SDK's caching materials manager: for at most
// ReusePolicy.Messages requests and at most ReusePolicy.MaxAge after its
// wrap, whichever comes first (defaults 4096 and one minute; Messages at
// most 2^20; Messages 1 is a fresh key per request). Every request draws
// its own random IV. A receiver sees a blob repeat within those bounds; its
// unwrapped-key cache then saves it the private-key operation too.
//
// SM4-GCM. With random 96-bit nonces the probability that two of n
// requests under one key share a nonce is at most n(n-1)/2 / 2^96 ≈
// n²/2^97: 2^12 requests (the default) give 2^-73, the limit 2^20 gives
// 2^-57. Over N requests in all, with keys of n requests each, the sum over
// keys is about N·n/2^97: a year at 10,000 requests a second (N ≈ 2^38)
// with the default is 2^-47. That stays far inside NIST SP 800-38D's bound
// for random nonces (at most 2^32 invocations per key, collision risk at
// most 2^-32), and each message is a few blocks, far from GCM's per-key
// data limits. Distinct nonces give disjoint counter blocks, so requests
// under one key never share keystream. Within one request the scheme's own
// nonce reuse across fields lets an observer of two fields' tags solve for
// the GHASH key H, which depends on the data key only; under a reused key
// that H would also serve other requests, including those that encrypt a
// single field and so never expose H themselves. A Sealer therefore keeps
// one key per field set: a key sealing name and id_card together is never
// used for a request sealing one of them, and a key for one field never
// sees a nonce twice. Forging a request under the two-field key needs, as
// with a fresh key, a tag of that request's own nonce: nothing is gained
// over the per-request exposure described above.
//
// AES-256-CBC. A fresh random 16-byte IV per request keeps CBC
// IND-CPA-secure under one key: equal plaintexts in two requests give
// unrelated ciphertexts; the distinguishing bound is about σ²/2^128 for σ
// blocks under the key (a request is a few blocks: 2^20 requests stay
// below 2^-80). Within a request CBC stays deterministic, as the scheme
// makes it. Reuse gives a padding oracle at the receiver nothing new: each
// captured request already carries its blob, so its key could be probed
// without reuse, and probing reveals plaintext, never the key.
//
// What reuse does cost: whoever obtains one data key (from the sender's or
// the receiver's memory) reads every request sealed with it, up to the
// count and the age, instead of one. Retire ends a Sealer's reuse at once
// (the gateway retires on every key reload, so a key never spans a change
// of the receiver's public key, nor a reload at all); a Sealer serves one
// recipient only. Sessions keep their own key and IV, so an answer always
// opens with the key its request was sealed with.
package fieldcrypto
