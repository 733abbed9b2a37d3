package fieldcrypto

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
)

// interopDir holds the independent implementation (Node's crypto and the
// sm-crypto npm package) and its pinned package-lock.json.
const interopDir = "testdata/interop"

// wireRequest is a check request as both sides put it on the wire.
type wireRequest struct {
	Name       string                `json:"name"`
	IDCard     string                `json:"id_card"`
	Encryption *contracts.Encryption `json:"encryption,omitempty"`
}

type plainFields struct {
	Name   string `json:"name"`
	IDCard string `json:"id_card"`
}

type interopInput struct {
	RSA struct {
		PrivatePEM string `json:"privatePem"`
		PublicPEM  string `json:"publicPem"`
	} `json:"rsa"`
	SM2 struct {
		PrivateHex string `json:"privateHex"`
		PublicHex  string `json:"publicHex"`
	} `json:"sm2"`
	Samples   []plainFields `json:"samples"`
	GoVectors []goVector    `json:"goVectors"`
}

type goVector struct {
	Label   string      `json:"label"`
	Request wireRequest `json:"request"`
	Answer  wireRequest `json:"answer"`
	want    Fields
}

type interopOutput struct {
	SelfTest  map[string]string `json:"selfTest"`
	Decrypted []struct {
		Label   string       `json:"label"`
		Request *plainFields `json:"request"`
		Answer  *plainFields `json:"answer"`
		Error   string       `json:"error"`
	} `json:"decrypted"`
	NodeVectors []struct {
		Label   string      `json:"label"`
		Plain   plainFields `json:"plain"`
		Request wireRequest `json:"request"`
	} `json:"nodeVectors"`
	SM2Generated struct {
		PrivateHex string      `json:"privateHex"`
		PublicHex  string      `json:"publicHex"`
		Plain      plainFields `json:"plain"`
		Request    wireRequest `json:"request"`
	} `json:"sm2Generated"`
}

// interopUnavailable fails under CI (where a missing toolchain is a broken
// setup) and skips elsewhere, saying what to install.
func interopUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("interop test cannot run under CI: %s", msg)
	}
	t.Skipf("interop test skipped: %s (install Node.js and npm, or run `make setup`)", msg)
}

// TestInteropNode cross-checks the codec against an independent
// implementation: Go seals requests (and answers) that Node decrypts, and
// Node seals requests that Go opens, for both algorithms and both SM2 blob
// layouts.
func TestInteropNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		interopUnavailable(t, "node not found")
	}
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "sm-crypto")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			interopUnavailable(t, "node_modules missing and npm not found")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = interopDir
		if out, err := cmd.CombinedOutput(); err != nil {
			interopUnavailable(t, "npm ci failed: %v\n%s", err, out)
		}
	}

	r, s := testKeys(t)
	ring, err := NewKeyring(nil, r[0], s[0])
	if err != nil {
		t.Fatal(err)
	}
	var in interopInput
	privPEM, _ := MarshalPrivateKeyPEM(r[0])
	pubPEM, _ := MarshalPublicKeyPEM(&r[0].PublicKey)
	in.RSA.PrivatePEM, in.RSA.PublicPEM = string(privPEM), string(pubPEM)
	in.SM2.PrivateHex = hex.EncodeToString(s[0].D.FillBytes(make([]byte, 32)))
	in.SM2.PublicHex = "04" + hex.EncodeToString(s[0].X.FillBytes(make([]byte, 32))) + hex.EncodeToString(s[0].Y.FillBytes(make([]byte, 32)))
	for _, f := range samples {
		in.Samples = append(in.Samples, plainFields{f.Name, f.IDCard})
	}

	recipients := []struct {
		label string
		to    Recipient
	}{
		{"AES-256-CBC", mustRecipient(t, &r[0].PublicKey)},
		{"SM4-GCM uncompressed", mustRecipient(t, &s[0].PublicKey)},
		{"SM4-GCM bare", mustRecipient(t, &s[0].PublicKey).WithSM2Encoding(SM2Bare)},
	}
	for _, rc := range recipients {
		for i, plain := range samples {
			set := []FieldSet{AllFields, FieldIDCard, FieldName}[i%3]
			sealed, _, enc := seal(t, rc.to, plain, set)
			v := goVector{Label: fmt.Sprintf("go %s #%d", rc.label, i), want: plain}
			v.Request = wireRequest{sealed.Name, sealed.IDCard, &enc}
			// The answer, as a receiver seals it with the client's key.
			_, server, err := ring.Open(&enc, sealed)
			if err != nil {
				t.Fatal(detail(err))
			}
			answer, aenc, err := server.Seal(plain, AllFields)
			if err != nil {
				t.Fatal(err)
			}
			v.Answer = wireRequest{answer.Name, answer.IDCard, &aenc}
			in.GoVectors = append(in.GoVectors, v)
		}
	}

	stdin, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "interop.mjs")
	cmd.Dir = interopDir
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node interop.mjs: %v\n%s", err, stderr.String())
	}
	var out interopOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("node output: %v\n%s", err, stdout.String())
	}
	t.Logf("node self-test: %v", out.SelfTest)

	// Go → Node.
	if len(out.Decrypted) != len(in.GoVectors) {
		t.Fatalf("node decrypted %d of %d vectors", len(out.Decrypted), len(in.GoVectors))
	}
	for i, d := range out.Decrypted {
		v := in.GoVectors[i]
		if d.Error != "" {
			t.Errorf("%s: node: %s", v.Label, d.Error)
			continue
		}
		want := v.want
		got := Fields{Name: v.Request.Name, IDCard: v.Request.IDCard} // fields outside the list stay as sent
		if slices.Contains(v.Request.Encryption.EncryptList, NameField) {
			got.Name = d.Request.Name
		}
		if slices.Contains(v.Request.Encryption.EncryptList, IDCardField) {
			got.IDCard = d.Request.IDCard
		}
		if got != want {
			t.Errorf("%s: node decrypted the request to %+v, want %+v", v.Label, got, want)
		}
		if d.Answer == nil || d.Answer.Name != want.Name || d.Answer.IDCard != want.IDCard {
			t.Errorf("%s: node decrypted the answer to %+v, want %+v", v.Label, d.Answer, want)
		}
	}

	// Node → Go.
	if len(out.NodeVectors) != 3*len(samples) {
		t.Fatalf("node made %d vectors", len(out.NodeVectors))
	}
	for _, v := range out.NodeVectors {
		want := Fields{Name: v.Plain.Name, IDCard: v.Plain.IDCard}
		req := v.Request
		got, sess, err := ring.Open(req.Encryption, Fields{Name: req.Name, IDCard: req.IDCard})
		if err != nil {
			t.Errorf("%s: Go Open: %s", v.Label, detail(err))
			continue
		}
		if got != want {
			t.Errorf("%s: Go opened %+v, want %+v", v.Label, got, want)
		}
		if sess.Algorithm() != Algorithm(req.Encryption.Algorithm) {
			t.Errorf("%s: session algorithm %s", v.Label, sess.Algorithm())
		}
	}

	// A key pair sm-crypto generated, read from its hex forms.
	g := out.SM2Generated
	priv, err := ParseSM2PrivateKeyHex(g.PrivateHex)
	if err != nil {
		t.Fatalf("sm-crypto private key %d hex digits: %v", len(g.PrivateHex), err)
	}
	pub, err := ParseSM2PublicKeyHex(g.PublicHex)
	if err != nil || !pub.Equal(&priv.PublicKey) {
		t.Fatalf("sm-crypto public key: %v", err)
	}
	genRing, err := NewKeyring(nil, priv)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := genRing.Open(g.Request.Encryption, Fields{Name: g.Request.Name, IDCard: g.Request.IDCard})
	if err != nil || got != (Fields{Name: g.Plain.Name, IDCard: g.Plain.IDCard}) {
		t.Errorf("request for an sm-crypto key: %s %+v", detail(err), got)
	}
}
