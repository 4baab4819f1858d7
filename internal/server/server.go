// Package server is pamd's HTTP layer. It owns the /v1 conventions, written
// once for every resource: request ids and access logs, panic recovery, body
// limits and media types, bearer authentication, idempotency keys, ETag and
// If-Match, cursor pagination, RFC 9457 problems, and the OpenAPI description
// that huma derives from the Go types. Handlers stay thin: decode, call the
// domain (which authorises), encode.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/accessplane/terraform-provider-pam/internal/api"
	"github.com/accessplane/terraform-provider-pam/internal/auth"
	"github.com/accessplane/terraform-provider-pam/internal/catalog"
	"github.com/accessplane/terraform-provider-pam/internal/clock"
	"github.com/accessplane/terraform-provider-pam/internal/keys"
	"github.com/accessplane/terraform-provider-pam/internal/ratelimit"
	"github.com/accessplane/terraform-provider-pam/internal/store"
	"github.com/accessplane/terraform-provider-pam/internal/store/idemstore"
	"github.com/accessplane/terraform-provider-pam/internal/vault"
)

// DefaultMaxBodyBytes caps request bodies; configuration objects are small.
const DefaultMaxBodyBytes = 1 << 20

// Config configures a Server.
type Config struct {
	Store   store.Store
	Clock   clock.Clock
	Logger  *slog.Logger
	Version string
	// PageTokenKey signs page tokens; at least 32 random bytes.
	PageTokenKey []byte
	MaxBodyBytes int64
	// Provisioner makes elevations take effect outside pamd; nil grants
	// synchronously (catalog.SyncProvisioner).
	Provisioner catalog.Provisioner
	// Keyring protects MFA secrets at rest; nil answers the MFA endpoints
	// with 503 mfa_unavailable.
	Keyring *keys.Keyring
	// Rotator is asked to rotate vault secrets on check-in; nil means
	// vault.NoopRotator (nothing rotates; the account status says so).
	Rotator vault.Rotator
	// Rotation is the rotation engine (schedules, operations); nil builds one
	// over Store with the default connectors. When Rotator is nil, Rotation
	// is the Rotator too.
	Rotation *catalog.Rotation
	// Sessions serves session policies, sessions and recordings; nil builds
	// one over Store with Keyring and no gateway (catalog.NoopTerminator).
	Sessions *catalog.Sessions
	// RateLimiter rations requests per token (per client address before
	// authentication); nil means no limit. Health checks are exempt.
	RateLimiter ratelimit.Limiter
	// AuthFailureLimiter rations audited credential refusals per client
	// address; nil means DefaultAuthFailureRate/Burst in memory.
	AuthFailureLimiter ratelimit.Limiter
	// Instance identifies this process to the idempotency middleware: its
	// reservations record Instance.ID, and a retry takes over at once a
	// reservation whose owner is not Alive. nil means the store's own
	// (store.InstanceOf), if any; without one, reservations carry no owner
	// and a dead holder's key waits for its lock to lapse.
	Instance store.Instance
}

// Server is the pamd HTTP API.
type Server struct {
	// store serves the handlers: it marks idempotency reservations applied
	// in the transaction of the request's mutation (idemstore).
	store store.Store
	// idem is the undecorated store of the idempotency middleware's own
	// transactions (reservation, outcome).
	idem     store.Store
	instance store.Instance
	clock    clock.Clock
	log      *slog.Logger
	version  string
	maxBody  int64
	pages    pager
	catalog  *catalog.Service
	mfa      mfaState

	limiter      ratelimit.Limiter
	authFailures ratelimit.Limiter

	mux     *http.ServeMux
	api     huma.API
	handler http.Handler
}

// New builds the server and registers every route.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: no store")
	}
	if len(cfg.PageTokenKey) < 32 {
		return nil, errors.New("server: page token key must be at least 32 bytes")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.AuthFailureLimiter == nil {
		l, err := ratelimit.NewMemory(ratelimit.Config{Rate: DefaultAuthFailureRate, Burst: DefaultAuthFailureBurst, Now: cfg.Clock.Now})
		if err != nil {
			return nil, err
		}
		cfg.AuthFailureLimiter = l
	}
	installHumaErrors()
	// Every request-serving service writes through the decorated store, so
	// that an idempotent request's mutation also marks its key applied.
	// Services passed in (Rotation, Sessions) must be built over a store
	// wrapped with idemstore.Wrap too (the daemon does).
	cfg.Store = idemstore.Wrap(cfg.Store)
	if cfg.Instance == nil {
		cfg.Instance = store.InstanceOf(idemstore.Unwrap(cfg.Store))
	}
	s := &Server{
		idem: idemstore.Unwrap(cfg.Store), instance: cfg.Instance,
		limiter: cfg.RateLimiter, authFailures: cfg.AuthFailureLimiter,
		store: cfg.Store, clock: cfg.Clock, log: cfg.Logger, version: cfg.Version, maxBody: cfg.MaxBodyBytes,
		pages:   pager{key: cfg.PageTokenKey, now: cfg.Clock.Now},
		catalog: &catalog.Service{Store: cfg.Store, Clock: cfg.Clock, Provisioner: cfg.Provisioner, Keyring: cfg.Keyring},
		mux:     http.NewServeMux(),
	}

	hc := huma.DefaultConfig("pamd API", cfg.Version)
	hc.Info.Description = "Privileged identity and access management API. Errors are RFC 9457 problem+json with a stable code."
	hc.OpenAPIPath = api.PathPrefix + "/openapi"
	hc.DocsPath = ""
	hc.SchemasPath = ""
	// The default hooks add "$schema" members to every body; our wire types
	// are the contract and carry no such member.
	hc.CreateHooks = nil
	// Optional-by-default matches the wire contract: omitted description,
	// scopes and labels take defaults. Required fields are checked by the
	// domain, which reports them with our violation codes.
	hc.FieldsOptionalByDefault = true
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "A pamd token: pamd_..."},
	}
	hc.Security = []map[string][]string{{"bearer": {}}}
	s.api = humago.New(s.mux, hc)

	s.registerHealth()
	s.registerRoles()
	s.registerActivationPolicies()
	s.registerEligibilities()
	s.registerElevations()
	s.registerActiveElevations()
	s.registerAudit()
	s.registerMFA(cfg.Keyring)
	rot := cfg.Rotation
	if rot == nil {
		rot = catalog.NewRotation(&catalog.Service{Store: cfg.Store, Clock: cfg.Clock}, cfg.Keyring, nil, cfg.Logger)
	}
	if cfg.Rotator == nil {
		cfg.Rotator = rot
	}
	s.registerVault(cfg.Keyring, cfg.Rotator)
	s.registerRotation(rot)
	if cfg.Sessions == nil {
		cfg.Sessions = &catalog.Sessions{Store: cfg.Store, Clock: cfg.Clock, Keyring: cfg.Keyring, Logger: cfg.Logger}
	}
	s.registerSessions(cfg.Sessions)
	s.registerSSHKeys()
	s.registerTokens()

	// Outermost first: observe sees every request, route answers 404/405
	// before anyone is asked for a token.
	s.handler = s.observe(s.route(s.readBody(s.authenticate(s.idempotency(s.mux)))))
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OpenAPI returns the generated description, for tests and publishing.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// register wraps huma.Register so that every handler error goes through the
// same problem conversion, and every operation gets the body limit.
func register[I, O any](s *Server, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	op.MaxBodyBytes = s.maxBody + 1 // huma rejects a body of exactly MaxBodyBytes
	path := op.Path
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, humaError(ctx, path, err)
		}
		return out, nil
	})
}

// caller builds the domain's view of the requester. Authentication already
// ran, so a missing principal is a wiring bug, reported as 401 to fail safe.
func caller(ctx context.Context, method, path string) (catalog.Caller, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return catalog.Caller{}, api.NewProblem(http.StatusUnauthorized, api.CodeUnauthenticated, "no credentials")
	}
	return catalog.Caller{Principal: p, Request: api.AuditRequest{RequestID: requestID(ctx), Method: method, Path: path}}, nil
}

// ifMatch parses an optional If-Match header; "*" means any version.
func ifMatch(h string) (*int64, error) {
	if h == "" || h == "*" {
		return nil, nil //nolint:nilnil // absent precondition is not an error
	}
	v, err := api.ParseETag(h)
	if err != nil {
		return nil, api.ValidationProblem("If-Match is not an entity tag", api.Violation{
			Pointer: "header:" + api.HeaderIfMatch, Code: "invalid", Message: `If-Match must be a version tag such as "3"`})
	}
	return &v, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

type healthOutput struct {
	Body api.Health
}

func (s *Server) registerHealth() {
	register(s, huma.Operation{
		OperationID: "get-health", Method: http.MethodGet, Path: api.PathHealth, Summary: "Liveness and store health",
		Tags: []string{"health"}, Security: []map[string][]string{},
	}, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		if err := s.store.View(ctx, func(tx store.Tx) error { _, err := tx.CountTokens(); return err }); err != nil {
			return nil, err
		}
		return &healthOutput{Body: api.Health{Status: "ok", Version: s.version}}, nil
	})
}
