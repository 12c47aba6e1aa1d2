// Package catalog assembles the runtime's default catalog: the connector
// registry that performs `call: http` and `call: openapi` and the built-in
// functions a workflow calls as NAME:VERSION@default or bare NAME. The
// durable runtime, the in-memory runner and validation all take it from
// here, so that a built-in added once is known everywhere.
package catalog

import (
	"fmt"
	"log/slog"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/httpcall"
	"github.com/storeflow/storeflow/connector/logline"
)

// Options configure the live connectors.
type Options struct {
	Logger *slog.Logger
	// HTTP performs call: http and call: openapi; nil: a default client.
	HTTP *httpcall.Client
}

// Default returns a registry with every connector of this storeflow.
func Default(opts Options) *connector.Registry {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HTTP == nil {
		opts.HTTP = &httpcall.Client{Logger: opts.Logger}
	}
	reg := connector.NewRegistry()
	reg.Handle(connector.KindHTTP, opts.HTTP)
	reg.Handle(connector.KindOpenAPI, opts.HTTP)
	for _, b := range []struct {
		def connector.Builtin
		c   connector.Connector
	}{
		{logline.Builtin, &logline.Connector{Logger: opts.Logger}},
	} {
		if err := reg.Define(b.def, b.c); err != nil {
			// The declarations are this package's own: a bad one is a bug
			// that every test of the catalog shows.
			panic(fmt.Sprintf("catalog: %v", err))
		}
	}
	return reg
}
