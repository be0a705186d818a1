package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// isNull reports whether a raw field is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// unmarshalParam decodes raw into v, naming param on a type error.
func unmarshalParam(raw json.RawMessage, v any, param, want string) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return badParam(param, "%s: wrong type: want %s", param, want)
	}
	return nil
}

// decodeBody unmarshals c's JSON body into v with errors naming the
// field; a body of another Content-Type is a 415.
func decodeBody(c *fiber.Ctx, v any) error {
	if err := checkJSONBody(c); err != nil {
		return err
	}
	return decodeJSON(c.Body(), v)
}

// decodeJSON unmarshals a JSON object into v with errors naming the field.
func decodeJSON(body []byte, v any) error {
	switch trimmed := bytes.TrimSpace(body); {
	case len(trimmed) == 0:
		return badParam("", "the request body is empty; want a JSON object")
	case bytes.Equal(trimmed, []byte("null")):
		return badParam("", "the request body must be a JSON object, not null")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// nullElement finds a null inside the arrays of raw (nested arrays
// included; objects are their fields' business) and returns its path,
// such as "[2]" or "[0][1]": Go decodes a null element into a zero value
// ("" or 0), which would pass for a prompt, a choice or a token id.
func nullElement(raw json.RawMessage) (string, bool) {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return "", false
	}
	for i, it := range items {
		if isNull(it) {
			return fmt.Sprintf("[%d]", i), true
		}
		if p, ok := nullElement(it); ok {
			return fmt.Sprintf("[%d]%s", i, p), true
		}
	}
	return "", false
}

// checkNoNull is a 400 naming param when raw holds a null array element.
func checkNoNull(raw json.RawMessage, param, want string) error {
	if p, ok := nullElement(raw); ok {
		return badParam(param, "%s%s: null; want %s", param, p, want)
	}
	return nil
}

// checkJSONBody answers 415 for a body that says it is not JSON, as vLLM
// does; a missing Content-Type is taken as JSON (bare HTTP clients send
// none). One exception: curl -d labels every body
// application/x-www-form-urlencoded, so `curl URL -d '{"prompt": ...}'`,
// the quick start's first request, sends a JSON object under a form type;
// a form body that is a JSON object is read as JSON (a real form body,
// a=1&b=2, is still a 415).
func checkJSONBody(c *fiber.Ctx) error {
	ct := c.Get(fiber.HeaderContentType)
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == fiber.MIMEApplicationJSON || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	if err == nil && mt == fiber.MIMEApplicationForm && bytes.HasPrefix(bytes.TrimSpace(c.Body()), []byte("{")) {
		return nil
	}
	return &APIError{Status: fiber.StatusUnsupportedMediaType, Type: "invalid_request_error", Code: "unsupported_media_type",
		Message: fmt.Sprintf("Content-Type %q is not JSON; send the body as application/json", ct)}
}
