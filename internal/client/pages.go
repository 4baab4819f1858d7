package client

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/accessplane/terraform-provider-pam/internal/api"
)

// MaxPages bounds how many pages All and Pages walk, so that a server that
// keeps handing out tokens cannot make a caller loop forever.
const MaxPages = 10000

// ErrTooManyPages is returned when a listing exceeds MaxPages.
var ErrTooManyPages = errors.New("listing exceeds the maximum number of pages")

// PageFunc fetches the page that starts at pageToken ("" is the first page).
// Callers usually close over a List method:
//
//	func(tok string) (*api.Page[api.Role], error) {
//		p.PageToken = tok
//		return c.ListRoles(ctx, p)
//	}
type PageFunc[T any] func(pageToken string) (*api.Page[T], error)

// Items walks every page fetched by fetch and yields each item in order. It
// stops at the first error (yielded once, with a zero item), when ctx is done,
// after MaxPages pages, or when the server repeats a page token (which would
// otherwise loop forever).
func Items[T any](ctx context.Context, fetch PageFunc[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		token := ""
		seen := map[string]bool{}
		for pages := 0; ; pages++ {
			if err := ctx.Err(); err != nil {
				yield(zero, err)
				return
			}
			if pages >= MaxPages {
				yield(zero, fmt.Errorf("%w (%d)", ErrTooManyPages, MaxPages))
				return
			}
			page, err := fetch(token)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, item := range page.Items {
				if !yield(item, nil) {
					return
				}
			}
			if page.NextPageToken == "" {
				return
			}
			if seen[page.NextPageToken] {
				yield(zero, fmt.Errorf("server repeated page token %q", page.NextPageToken))
				return
			}
			seen[page.NextPageToken] = true
			token = page.NextPageToken
		}
	}
}

// All collects every item of a paginated listing; see Items for the bounds.
// On error it returns the error and no items.
func All[T any](ctx context.Context, fetch PageFunc[T]) ([]T, error) {
	var all []T
	for item, err := range Items(ctx, fetch) {
		if err != nil {
			return nil, err
		}
		all = append(all, item)
	}
	return all, nil
}
