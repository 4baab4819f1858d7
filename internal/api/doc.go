// Package api holds the wire contract of pamd's /v1 API: the JSON types, the
// problem+json error shape, header names and the validation rules that both the
// server and the provider enforce. Nothing here performs I/O; the server and the
// client import it so that the contract is written once.
package api
