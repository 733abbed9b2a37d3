package fieldcrypto_test

import (
	"fmt"
	"time"

	"github.com/idgate/idgate/contracts"
	"github.com/idgate/idgate/contracts/fieldcrypto"
)

// A client seals a request for the receiver's SM2 key; the receiver opens
// it, validates the plaintext and seals its answer with the client's key.
func Example() {
	// Receiver: its key (from EnsureKeyFile or LoadPrivateKeys in a
	// program) and a keyring with a small unwrapped-key cache.
	priv, _ := fieldcrypto.GenerateKey(fieldcrypto.SM4GCM)
	ring, _ := fieldcrypto.NewKeyring(fieldcrypto.NewKeyCache(1000, time.Minute), priv)

	// Client: the receiver's public key, a sealed request.
	pub, _ := fieldcrypto.PublicKey(priv)
	to, _ := fieldcrypto.NewRecipient(pub)
	req := contracts.CheckRequest{Name: "张三", IDCard: "11010519491231002X"}
	client, _ := fieldcrypto.SealRequest(&req, to, fieldcrypto.AllFields)
	fmt.Println(req.Encryption.Algorithm, req.Encryption.EncryptList, len(req.Encryption.TagList), "tags")

	// Receiver: decrypt in place; bad objects become a 400.
	sess, err := ring.OpenRequest(&req)
	if err != nil {
		rej := fieldcrypto.Rejection(err)
		fmt.Println(rej.Error.Status(), rej.Error, rej.Reason)
		return
	}
	rej := sess.MaskRejection(contracts.Validate(&req, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	fmt.Println("valid:", rej == nil)
	answer, enc, _ := sess.Seal(fieldcrypto.Fields{Name: req.Name, IDCard: req.IDCard}, sess.Fields())

	// Client: open the answer with the same session.
	plain, _ := client.Open(&enc, answer)
	fmt.Println(plain.IDCard)

	// A tampered request: one uniform message, whatever broke.
	req2 := contracts.CheckRequest{Name: "李四", IDCard: "440524188001010014"}
	fieldcrypto.SealRequest(&req2, to, fieldcrypto.AllFields)
	req2.Encryption.TagList[0], req2.Encryption.TagList[1] = req2.Encryption.TagList[1], req2.Encryption.TagList[0]
	_, err = ring.OpenRequest(&req2)
	rej = fieldcrypto.Rejection(err)
	fmt.Println(rej.Error.Status(), rej.Error, rej.Reason)
	// Output:
	// SM4-GCM [name id_card] 2 tags
	// valid: true
	// 11010519491231002X
	// 400 token_mismatched encryption: decrypt failure
}
