package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/idgate/idgate/contracts"
)

// MaxJSONBytes bounds the body of every admin route that takes a JSON
// object (key creation, cache purge): such a body is a handful of fields,
// so anything larger is refused with 400 token_mismatched before it is
// parsed.
const MaxJSONBytes = 64 << 10

// MaxStatementBytes bounds the body of POST /admin/reconcile: an
// authority's statement of about 100,000 per-request lines. Larger
// statements are reconciled from a file with `gateway reconcile
// -statement`, which reads up to reconcile.MaxStatementBytes.
const MaxStatementBytes = 32 << 20

// BodyLimit is the admin listener's body bound: the largest of its routes'
// bounds plus contracts.BodyReadCap, so that a body just over a route's
// bound is read and answered 400 token_mismatched by the route (a server
// that answers before reading the body resets the client's upload, and the
// client never sees the answer). A body beyond BodyLimit is never read in
// full: the connection is answered and closed.
const BodyLimit = MaxStatementBytes + contracts.BodyReadCap

// DecodeJSON reads one JSON object of at most MaxJSONBytes into v (a
// pointer to a struct), refusing fields v does not name, a key repeated in
// any object, a field name in another case than v's (encoding/json would
// take the last of two keys and match names in any case) and anything after
// the object, so an admin request means exactly what the operator wrote.
func DecodeJSON(body []byte, v any) error {
	if len(body) > MaxJSONBytes {
		return fmt.Errorf("body exceeds %d bytes", MaxJSONBytes)
	}
	// null would decode into any struct as nothing at all.
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON value")
	}
	schema := schemaOf(v)
	return contracts.CheckKeys(body, &schema)
}

// schemaOf names the JSON members of the struct v points to, as its tags
// spell them.
func schemaOf(v any) contracts.KeySchema {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var s contracts.KeySchema
	if t == nil || t.Kind() != reflect.Struct {
		return s
	}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		s.Fields = append(s.Fields, name)
	}
	return s
}

// ErrorHandler answers the errors the admin listener raises itself (a
// body beyond BodyLimit, an unknown route or method, malformed HTTP) in
// the contract's error body: 400 token_mismatched for client input, 404
// api_not_implemented for a route that does not exist, 500 api_error
// otherwise. ids makes the trace id (nil: none).
func ErrorHandler(ids interface{ Next() string }) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, code := fiber.StatusInternalServerError, contracts.ErrAPIError
		var fe *fiber.Error
		if errors.As(err, &fe) {
			switch {
			case fe.Code == fiber.StatusNotFound || fe.Code == fiber.StatusMethodNotAllowed:
				status, code = fiber.StatusNotFound, contracts.ErrAPINotImplemented
			case fe.Code == fiber.StatusRequestEntityTooLarge:
				return WriteError(c, ids, fiber.StatusBadRequest, contracts.ErrTokenMismatched, fmt.Sprintf("body exceeds %d bytes", BodyLimit))
			case fe.Code < 500:
				status, code = fiber.StatusBadRequest, contracts.ErrTokenMismatched
			}
		}
		return WriteError(c, ids, status, code, "")
	}
}

// WriteError answers the contract's error body with status; an empty msg
// takes the code's default message. The trace id is also the answer's
// X-Request-Id.
func WriteError(c *fiber.Ctx, ids interface{ Next() string }, status int, code contracts.ErrorCode, msg string) error {
	var id string
	if ids != nil {
		id = ids.Next()
		c.Set("X-Request-Id", id)
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(contracts.AppendError(nil, contracts.NewError(code, msg, id)))
}
