package testkit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/contracts"
)

// RawCheck writes a request to the check path byte for byte, so repeated
// headers reach the server as sent (net/http folds them), and reads the
// answer. headers are complete "Name: value\r\n" lines; Host, Connection:
// close and the body's Content-Length are added.
func RawCheck(t testing.TB, url, method, headers, body string) (int, http.Header, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := method + " " + contracts.CheckPath + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}
