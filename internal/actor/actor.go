// Package actor carries who is acting (a token's name over HTTP, the
// operating-system user over the CLI, a Go API caller's own label) in a
// context, so that holds, erasure and the audit trail record the same answer
// whichever door the request came in by.
package actor

import (
	"context"
	"os/user"
)

// Via names the door an action came in by.
type Via string

// The doors.
const (
	ViaCLI  Via = "cli"
	ViaHTTP Via = "http"
	ViaAPI  Via = "api"
	// ViaScheduler: serve's own lifecycle jobs (archive runs, purge).
	ViaScheduler Via = "scheduler"
)

// Actor is who performs an action.
type Actor struct {
	// Name is the token's name (HTTP), the operating-system user (CLI) or
	// the label a Go API caller chose.
	Name string
	// Via is the door: cli, http or api.
	Via Via
	// Addr is the client address over HTTP; empty elsewhere.
	Addr string
	// DBRole is the database role the action ran as, where known.
	DBRole string
}

type key struct{}

// With returns ctx carrying a.
func With(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, key{}, a)
}

// From returns the actor ctx carries, or an Actor with Via api and the
// process's operating-system user when it carries none.
func From(ctx context.Context) Actor {
	if a, ok := ctx.Value(key{}).(Actor); ok {
		return a
	}
	return Actor{Name: OSUser(), Via: ViaAPI}
}

// OSUser is the current operating-system user's name, or "unknown".
func OSUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
