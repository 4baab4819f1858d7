package crashtest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/client"
)

// object is what a writer knows about one object it owns: the last write
// pamd acknowledged with a 2xx, and the write in flight or lost, if any.
type object struct {
	kind, name string
	owner      int    // the writer that owns it
	id         string // empty until a create is acknowledged (or found after a crash)
	version    int64  // acknowledged version
	desc       string // acknowledged description
	pending    *string
}

// writerStats counts what the writers did and what the checks found.
type writerStats struct {
	acked          int // creates and updates acknowledged with 2xx
	checked        int // acknowledged objects verified on pamd after a restart
	lost           int // writes sent but not acknowledged (pamd died under them)
	lostButApplied int // ... of which pamd had committed anyway
}

// writers are concurrent API clients that create and update roles and safes
// while pamd is killed under them. They use no retries, so every write is
// either acknowledged or known to be in doubt.
type writers struct {
	c       *client.Client
	prefix  string
	mu      sync.Mutex
	objects []*object
	stats   writerStats
}

// kinds the writers exercise: create, get and conditional update by id.
type kindOps struct {
	create func(ctx context.Context, c *client.Client, name, desc string) (string, int64, error)
	get    func(ctx context.Context, c *client.Client, id string) (int64, string, error)
	find   func(ctx context.Context, c *client.Client, name string) (string, int64, string, error)
	update func(ctx context.Context, c *client.Client, id string, version int64, name, desc string) (int64, error)
}

var kinds = map[string]kindOps{
	"role": {
		create: func(ctx context.Context, c *client.Client, name, desc string) (string, int64, error) {
			r, err := c.CreateRole(ctx, api.RoleInput{Name: name, Description: desc})
			if err != nil {
				return "", 0, err
			}
			return r.ID, r.Version, nil
		},
		get: func(ctx context.Context, c *client.Client, id string) (int64, string, error) {
			r, err := c.GetRole(ctx, id)
			if err != nil {
				return 0, "", err
			}
			return r.Version, r.Description, nil
		},
		find: func(ctx context.Context, c *client.Client, name string) (string, int64, string, error) {
			r, err := c.FindRoleByName(ctx, name)
			if err != nil {
				return "", 0, "", err
			}
			return r.ID, r.Version, r.Description, nil
		},
		update: func(ctx context.Context, c *client.Client, id string, version int64, name, desc string) (int64, error) {
			r, err := c.UpdateRole(ctx, id, version, api.RoleInput{Name: name, Description: desc})
			if err != nil {
				return 0, err
			}
			return r.Version, nil
		},
	},
	"safe": {
		create: func(ctx context.Context, c *client.Client, name, desc string) (string, int64, error) {
			s, err := c.CreateSafe(ctx, api.SafeInput{Name: name, Description: desc})
			if err != nil {
				return "", 0, err
			}
			return s.ID, s.Version, nil
		},
		get: func(ctx context.Context, c *client.Client, id string) (int64, string, error) {
			s, err := c.GetSafe(ctx, id)
			if err != nil {
				return 0, "", err
			}
			return s.Version, s.Description, nil
		},
		find: func(ctx context.Context, c *client.Client, name string) (string, int64, string, error) {
			s, err := c.FindSafeByName(ctx, name)
			if err != nil {
				return "", 0, "", err
			}
			return s.ID, s.Version, s.Description, nil
		},
		update: func(ctx context.Context, c *client.Client, id string, version int64, name, desc string) (int64, error) {
			s, err := c.UpdateSafe(ctx, id, version, api.SafeInput{Name: name, Description: desc})
			if err != nil {
				return 0, err
			}
			return s.Version, nil
		},
	},
}

// run starts n writer goroutines for one round; they write until stop is
// closed or a write fails (pamd died), and the returned func waits for them.
// Each writer owns its objects, so no write of the test conflicts with
// another and every refusal would be a bug.
func (w *writers) run(round, n int, seed uint64, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(round*100+i))) //nolint:gosec // reproducible test schedule
			for op := 0; ; op++ {
				select {
				case <-stop:
					return
				default:
				}
				if !w.step(round, i, op, rng) {
					return
				}
			}
		}()
	}
	return wg.Wait
}

// step makes one write and records its outcome; false means pamd failed it.
func (w *writers) step(round, writer, op int, rng *rand.Rand) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	desc := fmt.Sprintf("round %d writer %d op %d", round, writer, op)

	w.mu.Lock()
	var mine []*object
	for _, o := range w.objects {
		if o.id != "" && o.pending == nil && o.owner == writer {
			mine = append(mine, o)
		}
	}
	var o *object
	create := len(mine) < 3 || rng.IntN(4) == 0
	if create {
		kind := "role"
		if rng.IntN(2) == 0 {
			kind = "safe"
		}
		o = &object{kind: kind, owner: writer, name: fmt.Sprintf("%s-%d-%s-r%d-%d", w.prefix, writer, kind, round, op)}
		w.objects = append(w.objects, o)
	} else {
		o = mine[rng.IntN(len(mine))]
	}
	o.pending = &desc
	id, version, name, kind := o.id, o.version, o.name, o.kind
	w.mu.Unlock()

	var err error
	var newVersion int64
	if create {
		id, newVersion, err = kinds[kind].create(ctx, w.c, name, desc)
	} else {
		newVersion, err = kinds[kind].update(ctx, w.c, id, version, name, desc)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		// In doubt: pamd may or may not have committed it. The pending
		// description stays for the check after the restart.
		w.stats.lost++
		return false
	}
	o.id, o.version, o.desc, o.pending = id, newVersion, desc, nil
	w.stats.acked++
	return true
}

// check runs after a restart: every acknowledged write is on pamd with its
// acknowledged version and content, or — if a later write was in doubt —
// with exactly that later write applied (version+1, its content). Objects
// whose create was in doubt are looked up by name. The writers' view is then
// synchronised with pamd for the next round. It reads through c, a retrying
// client: a refused or dropped read is not a lost write.
func (w *writers) check(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	kept := w.objects[:0]
	for _, o := range w.objects {
		ops := kinds[o.kind]
		if o.id == "" {
			// Create in doubt: absent or present once, with the sent content.
			id, v, desc, err := ops.find(ctx, c, o.name)
			if errors.Is(err, client.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatalf("looking up %s %s: %v", o.kind, o.name, err)
			}
			if v != 1 || desc != *o.pending {
				t.Errorf("%s %s created in doubt: pamd has version %d %q, want 1 %q", o.kind, o.name, v, desc, *o.pending)
			}
			w.stats.lostButApplied++
			o.id, o.version, o.desc, o.pending = id, v, desc, nil
			kept = append(kept, o)
			continue
		}
		v, desc, err := ops.get(ctx, c, o.id)
		if err != nil {
			t.Fatalf("%s %s (%s), acknowledged at version %d: %v", o.kind, o.name, o.id, o.version, err)
		}
		w.stats.checked++
		switch {
		case v == o.version && desc == o.desc:
		case o.pending != nil && v == o.version+1 && desc == *o.pending:
			w.stats.lostButApplied++
		default:
			want := fmt.Sprintf("version %d %q", o.version, o.desc)
			if o.pending != nil {
				want += fmt.Sprintf(" (or %d %q)", o.version+1, *o.pending)
			}
			t.Errorf("%s %s (%s): pamd has version %d %q, acknowledged %s: an acknowledged write was lost or altered",
				o.kind, o.name, o.id, v, desc, want)
		}
		o.version, o.desc, o.pending = v, desc, nil
		kept = append(kept, o)
	}
	w.objects = kept
}
