package testkit

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts/tencent"
)

// TencentCall posts body as action to base's Tencent Cloud API 3.0
// endpoint (POST /), signed with s now as the Node SDK signs (host
// without its port), with the extra header name/value pairs. It fails t
// unless the answer is what the dialect always gives: HTTP 200 and a
// {"Response":{…}} envelope whose RequestId is the X-Request-Id header.
// It returns the Response and the request id.
func TencentCall(t testing.TB, base string, s *tencent.Signer, action, body string, header ...string) (response map[string]any, requestID string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testkit: tencent call: %v", err)
	}
	ts := time.Now().Unix()
	req, err := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(body))
	if err != nil {
		t.Fatalf("testkit: tencent call: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(tencent.HeaderAction, action)
	req.Header.Set(tencent.HeaderVersion, tencent.Version)
	req.Header.Set(tencent.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set("Authorization", s.Authorization(u.Hostname(), "application/json", []byte(body), ts))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("testkit: tencent call %s: %v", action, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env struct{ Response map[string]any }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &env) != nil || env.Response == nil {
		t.Fatalf("testkit: tencent call %s: not an envelope: HTTP %d %s", action, resp.StatusCode, b)
	}
	requestID = resp.Header.Get("X-Request-Id")
	if id, _ := env.Response["RequestId"].(string); id == "" || id != requestID {
		t.Fatalf("testkit: tencent call %s: RequestId %v, X-Request-Id %q", action, env.Response["RequestId"], requestID)
	}
	return env.Response, requestID
}

// TencentErrorCode is the Error.Code of a Response ("": none).
func TencentErrorCode(response map[string]any) string {
	e, _ := response["Error"].(map[string]any)
	code, _ := e["Code"].(string)
	return code
}
