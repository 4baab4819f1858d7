package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// pageTokenTTL bounds how long a cursor stays valid (API.md §6.8).
const pageTokenTTL = 24 * time.Hour

// cursor is what a page token carries. Collection and Filter bind the token to
// the list it came from, so it cannot be replayed against another query.
type cursor struct {
	Collection string `json:"c"`
	Filter     string `json:"f"`
	After      string `json:"a"`
	Expires    int64  `json:"e"`
}

// pager signs cursors with a key kept in the store, so tokens survive a
// restart and work across replicas sharing the database.
type pager struct {
	key []byte
	now func() time.Time
}

var errBadToken = errors.New("bad page token")

func (p pager) encode(collection, filter, after string) string {
	c := cursor{Collection: collection, Filter: filter, After: after, Expires: p.now().Add(pageTokenTTL).Unix()}
	payload, _ := json.Marshal(c) //nolint:errchkjson // a struct of strings and an int cannot fail to marshal
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(p.sign(payload))
}

func (p pager) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write(payload)
	return m.Sum(nil)
}

func (p pager) decode(token, collection, filter string) (string, error) {
	enc, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", errBadToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", errBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, p.sign(payload)) {
		return "", errBadToken
	}
	var c cursor
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", errBadToken
	}
	if c.Collection != collection || c.Filter != filter || p.now().Unix() > c.Expires {
		return "", errBadToken
	}
	return c.After, nil
}

func invalidPageToken() error {
	p := api.NewProblem(http.StatusBadRequest, api.CodeInvalidPageToken,
		"page_token is invalid, expired, or belongs to a different query; restart listing without it")
	p.Violations = []api.Violation{{Pointer: "query:page_token", Code: "invalid", Message: "not a page token issued for this query"}}
	return p
}

// pageSize applies the default and bounds of page_size.
func pageSize(n int) (int, error) {
	switch {
	case n == 0:
		return api.DefaultPageSize, nil
	case n < 1 || n > api.MaxPageSize:
		return 0, api.ValidationProblem("page_size is out of range", api.Violation{
			Pointer: "query:page_size", Code: "range", Message: fmt.Sprintf("page_size must be between 1 and %d", api.MaxPageSize)})
	}
	return n, nil
}
