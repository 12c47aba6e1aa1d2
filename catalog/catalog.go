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
	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/connector/httpcall"
	"github.com/storeflow/storeflow/connector/logline"
	"github.com/storeflow/storeflow/connector/profiles"
	"github.com/storeflow/storeflow/connector/shopadmin"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/connector/slack"
	"github.com/storeflow/storeflow/connector/sms"
	"github.com/storeflow/storeflow/connector/tasks"
	"github.com/storeflow/storeflow/task"
)

// Options configure the live connectors.
type Options struct {
	Logger *slog.Logger
	// HTTP performs call: http and call: openapi; nil: a default client.
	HTTP *httpcall.Client
	// Shops finds a shop's configuration (shop.Directory's Get): its mail
	// server, SMS account, Slack webhook, email templates and Admin API
	// credentials. Nil: calls
	// naming a shop fail with a configuration problem.
	Shops shopconfig.Func
	// Templates are storeflow's own email templates, which serve every shop
	// that has none of that name.
	Templates email.Templates
	// Unsubscribe builds the one-click unsubscribe links of marketing mail;
	// nil refuses marketing mail.
	Unsubscribe *email.UnsubscribeLinks
	// Sending stands in front of email.send and sms.send: the sending
	// rules (package sending). Nil: messages go out unchecked.
	Sending connector.Interceptor
	// Customers finds customer profiles for customer.get
	// (customer.Directory); nil: customer.get is a configuration problem.
	Customers profiles.Finder
	// Tasks keeps the approval tasks of task.create (task.Service); nil:
	// task.create is a configuration problem.
	Tasks *task.Service
}

// Default returns a registry with every connector of this storeflow.
func Default(opts Options) *connector.Registry {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HTTP == nil {
		opts.HTTP = &httpcall.Client{Logger: opts.Logger}
	}
	admin := &shopadmin.Connector{Shops: opts.Shops}
	reg := connector.NewRegistry()
	reg.Handle(connector.KindHTTP, opts.HTTP)
	reg.Handle(connector.KindOpenAPI, opts.HTTP)
	for _, b := range []struct {
		def connector.Builtin
		c   connector.Connector
	}{
		{logline.Builtin, &logline.Connector{Logger: opts.Logger}},
		{email.Builtin, &email.Connector{Shops: opts.Shops, Templates: email.ShopTemplates{Shops: opts.Shops, Fallback: opts.Templates}, Unsubscribe: opts.Unsubscribe}},
		{sms.Builtin, &sms.Connector{Shops: opts.Shops}},
		{slack.Builtin, &slack.Connector{Shops: opts.Shops}},
		{shopadmin.DiscountBuiltin, admin},
		{shopadmin.TagBuiltin, admin},
		{shopadmin.NoteBuiltin, admin},
		{profiles.Builtin, &profiles.Connector{Profiles: opts.Customers}},
		{profiles.ListBuiltin, &profiles.Connector{Profiles: opts.Customers}},
		{tasks.Builtin, &tasks.Connector{Tasks: opts.Tasks}},
	} {
		if err := reg.Define(b.def, b.c); err != nil {
			// The declarations are this package's own: a bad one is a bug
			// that every test of the catalog shows.
			panic(fmt.Sprintf("catalog: %v", err))
		}
	}
	reg.Intercept(opts.Sending, email.Name, sms.Name)
	return reg
}
