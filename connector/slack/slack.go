// Package slack is the `slack.post` built-in: it posts a message to a Slack
// channel through one of the shop's incoming webhooks (a new order worth a
// look, a failed payment, a stock alert for the team).
//
// The call's idempotency key goes with the request as Idempotency-Key.
// Slack's incoming webhooks do not deduplicate on it, so a call the
// runtime repeats after a crash can post twice; a proxy or a
// Slack-compatible endpoint that honours the header makes it once.
//
// Failures are problems with the status rule of every storeflow connector
// (package apicall): 503 when Slack throttled (429), failed (5xx), could
// not be reached or did not answer in time, worth retrying; Slack's own 4xx
// otherwise (400 invalid_payload, 403 action_prohibited, 404
// channel_not_found or no_service, 410 channel_is_archived), which are
// final.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/apicall"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/problem"
)

// Name and Version of the built-in.
const (
	Name    = "slack.post"
	Version = "1.0.0"
)

// Builtin declares slack.post in the default catalog.
var Builtin = connector.Builtin{
	Name:        Name,
	Version:     Version,
	Description: "posts a message to a Slack channel through one of the shop's incoming webhooks",
	Schema: []byte(`{
		"type": "object",
		"additionalProperties": false,
		"properties": {
			"text": {"type": "string", "minLength": 1, "maxLength": 40000, "description": "the message, in Slack's mrkdwn; with blocks, the fallback shown in notifications"},
			"blocks": {"type": "array", "minItems": 1, "maxItems": 50, "items": {"type": "object", "required": ["type"]}, "description": "Block Kit blocks"},
			"webhook": {"type": "string", "minLength": 1, "description": "the name of one of the shop's configured webhooks; its default webhook when absent"},
			"shop": {"type": "string", "description": "the shop whose webhooks to use; the default ones when absent"}
		},
		"anyOf": [{"required": ["text"]}, {"required": ["blocks"]}]
	}`),
}

// Args are the arguments of slack.post.
type Args struct {
	Text    string            `json:"text,omitempty"`
	Blocks  []json.RawMessage `json:"blocks,omitempty"`
	Webhook string            `json:"webhook,omitempty"`
	Shop    string            `json:"shop,omitempty"`
}

// Target names a configured webhook: a shop's, by name ("" is the
// default).
type Target struct {
	Shop    string
	Webhook string
}

// Connector performs slack.post.
type Connector struct {
	// Webhooks are fixed incoming-webhook URLs. A call is served by the
	// shop's webhook of that name here, else, for the default webhook, by
	// the Slack settings of the shop's configuration (Shops), else by the
	// webhook of that name of shop "".
	Webhooks map[Target]string
	// Shops finds a shop's configuration (shop.Directory's Get); nil when
	// only Webhooks serve.
	Shops shopconfig.Func
	// HTTP sends the requests; apicall.Client when nil.
	HTTP *http.Client
}

// webhook finds the URL of a call's webhook.
func (c *Connector) webhook(ctx context.Context, shopID, name string) (string, error) {
	if hook, ok := c.Webhooks[Target{shopID, name}]; ok {
		return hook, nil
	}
	sh, err := shopconfig.Lookup(ctx, c.Shops, Name, shopID)
	if err != nil {
		return "", err
	}
	if sh != nil && sh.Slack != nil && sh.Slack.WebhookURL != "" && name == "" {
		return sh.Slack.WebhookURL, nil
	}
	if hook, ok := c.Webhooks[Target{"", name}]; ok {
		return hook, nil
	}
	return "", problem.Newf(problem.TypeConfiguration, 500, "Slack Not Configured",
		"%s: no Slack webhook %q is configured for shop %q; add its incoming-webhook URL (storeflow shop update)", Name, name, shopID)
}

// service names Slack in problems: the webhook's URL is its credential
// and never appears in them.
const service = "Slack incoming webhook"

// Call implements connector.Connector.
func (c *Connector) Call(ctx context.Context, req connector.Request) (any, error) {
	var args Args
	if err := connector.DecodeArgs(req, &args); err != nil {
		return nil, err
	}
	if args.Text == "" && len(args.Blocks) == 0 {
		return nil, problem.Newf(problem.TypeValidation, 400, "Invalid Slack Message", "%s: text: missing; give the message as text, or Block Kit blocks", Name)
	}
	hook, err := c.webhook(ctx, args.Shop, args.Webhook)
	if err != nil {
		return nil, err
	}
	if _, err := apicall.CheckURL(hook); err != nil {
		// The URL is a credential: the problem names the webhook, not it.
		return nil, problem.Newf(problem.TypeConfiguration, 500, "Slack Not Configured",
			"%s: the webhook %q of shop %q is not an https URL; copy it from the Slack app's Incoming Webhooks page", Name, args.Webhook, args.Shop)
	}
	payload := map[string]any{}
	if args.Text != "" {
		payload["text"] = args.Text
	}
	if len(args.Blocks) > 0 {
		payload["blocks"] = args.Blocks
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, problem.Newf(problem.TypeValidation, 400, "Invalid Slack Message", "%s: blocks: %v", Name, err)
	}
	hreq, err := http.NewRequest(http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return nil, problem.Newf(problem.TypeConfiguration, 500, "Slack Not Configured", "%s: webhook %q: %v", Name, args.Webhook, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if req.IdempotencyKey != "" {
		hreq.Header.Set("Idempotency-Key", req.IdempotencyKey)
	}
	if _, err := apicall.Send(ctx, c.HTTP, hreq, fmt.Sprintf("%s %q", service, args.Webhook), nil); err != nil {
		return nil, err
	}
	out := map[string]any{"ok": true, "webhook": args.Webhook}
	if args.Shop != "" {
		out["shop"] = args.Shop
	}
	return out, nil
}
