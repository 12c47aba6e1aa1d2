package commerce_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/commerce/shopify"
	"github.com/storeflow/storeflow/commerce/woocommerce"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/events.md from the schemas")

const docsPath = "../docs/events.md"

// TestDocsAreCurrent keeps docs/events.md what the schemas and the
// adapters' topic tables say. After changing either, run
// go test ./commerce -run TestDocsAreCurrent -update-docs.
func TestDocsAreCurrent(t *testing.T) {
	got := renderDocs(t)
	if *updateDocs {
		require.NoError(t, os.WriteFile(docsPath, got, 0o644))
		return
	}
	want, err := os.ReadFile(docsPath)
	require.NoError(t, err)
	require.Equal(t, string(got), string(want), "docs/events.md is stale: run go test ./commerce -run TestDocsAreCurrent -update-docs")
}

// object is a schema object read with its keys in file order.
type object struct {
	keys   []string
	values map[string]json.RawMessage
}

func readObject(t *testing.T, raw []byte) object {
	t.Helper()
	o := object{values: map[string]json.RawMessage{}}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		var v json.RawMessage
		require.NoError(t, dec.Decode(&v))
		o.keys = append(o.keys, k.(string))
		o.values[k.(string)] = v
	}
	return o
}

func (o object) str(k string) string {
	var s string
	_ = json.Unmarshal(o.values[k], &s)
	return s
}

func (o object) list(k string) []string {
	var s []string
	_ = json.Unmarshal(o.values[k], &s)
	return s
}

var defTypes = map[string]string{
	"shop": "string", "id": "string (id)", "timestamp": "string (UTC time)", "decimal": "string (decimal)",
	"currency": "string (ISO 4217)", "email": "string (email)", "phone": "string (phone)", "attributes": "object",
	"customer": "[customer](#customer)", "address": "[address](#address)", "lineItem": "[lineItem](#lineitem)",
	"lineItems": "list of [lineItem](#lineitem)", "fulfillment": "[fulfillment](#fulfillment)", "tags": "list of string",
}

func typeOf(t *testing.T, p object, defs object) (string, string) {
	if ref := p.str("$ref"); ref != "" {
		name := ref[strings.LastIndexByte(ref, '/')+1:]
		def := readObject(t, defs.values[name])
		desc := ""
		if strings.Contains(defTypes[name], "](#") || name == "shop" {
			desc = def.str("description") // the shared objects' own words; a scalar's add nothing to its key
		}
		return defTypes[name], desc
	}
	typ := p.str("type")
	if typ == "" {
		var types []string
		_ = json.Unmarshal(p.values["type"], &types)
		typ = strings.Join(types, " or ")
	}
	if enum := p.list("enum"); len(enum) > 0 {
		return "one of " + strings.Join(enum, ", "), ""
	}
	if typ == "array" {
		items := readObject(t, p.values["items"])
		if items.str("type") == "object" {
			return "list of objects (" + strings.Join(readObject(t, items.values["properties"]).keys, ", ") + ")", ""
		}
		it, _ := typeOf(t, items, defs)
		return "list of " + it, ""
	}
	return typ, ""
}

func propertyTable(t *testing.T, b *strings.Builder, schema object, defs object) {
	props := readObject(t, schema.values["properties"])
	required := schema.list("required")
	b.WriteString("| key | type | required | meaning |\n|---|---|---|---|\n")
	for _, k := range props.keys {
		p := readObject(t, props.values[k])
		typ, defDesc := typeOf(t, p, defs)
		desc := p.str("description")
		if desc == "" {
			desc = defDesc
		}
		req := ""
		for _, r := range required {
			if r == k {
				req = "yes"
			}
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", k, typ, req, strings.ReplaceAll(desc, "|", "\\|"))
	}
}

func renderDocs(t *testing.T) []byte {
	defsRaw, err := os.ReadFile(filepath.Join("schemas", "defs.json"))
	require.NoError(t, err)
	defs := readObject(t, readObject(t, defsRaw).values["$defs"])

	var b strings.Builder
	b.WriteString(`# Commerce events

<!-- Generated from commerce/schemas and the adapters' topic tables by
     go test ./commerce -run TestDocsAreCurrent -update-docs; edit those, not this file. -->

storeflow's canonical commerce events: what shops report, the same across
platforms. The shop adapters (Shopify, WooCommerce, generic signed
webhooks) make them of webhooks; a sender can also post them to
` + "`/v1/events`" + ` itself. Each type has a JSON Schema, in
` + "[`commerce/schemas`](../commerce/schemas)" + `, that ` + "`commerce.Validate`" + ` checks an event's
data against: the adapters check every event they make (a payload that does
not give valid data is refused as unmappable, for the dead-letter list).
Checking events posted to ` + "`/v1/events`" + ` with the same schemas is for the HTTP
layer to wire (issue 11).

## Conventions

- Keys are camelCase and mean the same on every platform.
- Ids are strings, also where a platform writes numbers: Shopify's ids do
  not fit in a JSON number a JavaScript reader keeps exactly.
- Money is a decimal string (` + "`\"29.35\"`" + `) in the event's ` + "`currency`" + `
  (ISO 4217); a type's amounts require its currency. Product prices are in
  the shop's currency, given when the shop's configuration names it.
- Times are UTC, RFC 3339 (` + "`2026-04-01T12:30:00Z`" + `).
- Emails are trimmed and lower-case. Phones are E.164 (` + "`+14155550123`" + `) when
  they read as a valid number, national numbers in the address's or the
  shop's country; otherwise they are kept as the shop sent them.
- ` + "`attributes`" + ` holds anything else a sender wants to keep; every other
  key must be one the schema lists.

## Envelope

Every event is a CloudEvents 1.0 event:

| attribute | value |
|---|---|
| ` + "`id`" + ` | stable for the fact the event reports, so that a repeated webhook is logged once (the log deduplicates on source and id); each adapter says how it derives it |
| ` + "`source`" + ` | the platform and the shop: ` + "`shopify://acme.myshopify.com`" + `, ` + "`woocommerce://example.com`" + `, ` + "`<name>://<shop>`" + ` for a generic source |
| ` + "`type`" + ` | one of the types below, or a platform's own kept as it came (` + "`shopify.orders/delete`" + `, ` + "`woocommerce.coupon.created`" + `; their data is the webhook's payload) |
| ` + "`subject`" + ` | the id of the resource: order id, checkout token, customer id … |
| ` + "`time`" + ` | the data's ` + "`occurredAt`" + ` |
| ` + "`shop`" + ` | extension: the shop, as in the data |
| ` + "`orderingkey`" + `, ` + "`orderingtime`" + ` | extensions: the resource (` + "`order/820982911946154508`" + `) and the version of it the event carries (its updated_at). Shops retry with the original payload and keep no order; a consumer keeps the newest version per key and refuses older ones |
| ` + "`shopifywebhookid`" + `, ` + "`shopifyeventid`" + `, ` + "`shopifytriggeredat`" + `, ` + "`shopifyapiversion`" + `, ` + "`shopifytopic`" + `, ` + "`shopifyname`" + ` | extensions: Shopify's X-Shopify-* headers |
| ` + "`wctopic`" + `, ` + "`wcresource`" + `, ` + "`wcevent`" + `, ` + "`wcwebhookid`" + `, ` + "`wcdeliveryid`" + ` | extensions: WooCommerce's X-WC-Webhook-* headers |

`)
	b.WriteString("## Types\n\n")
	for _, typ := range commerce.Types() {
		fmt.Fprintf(&b, "- [%s](#%s)\n", typ, strings.ReplaceAll(typ, ".", ""))
	}
	b.WriteString("\n")
	for _, typ := range commerce.Types() {
		raw, err := commerce.Schema(typ)
		require.NoError(t, err)
		s := readObject(t, raw)
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", typ, s.str("description"))
		propertyTable(t, &b, s, defs)
		if dep := s.values["dependentRequired"]; dep != nil {
			keys := readObject(t, dep).keys
			fmt.Fprintf(&b, "\n`%s` require `currency`.\n", strings.Join(keys, "`, `"))
		}
		var pretty bytes.Buffer
		require.NoError(t, json.Indent(&pretty, orderedExample(t, raw), "", "  "))
		fmt.Fprintf(&b, "\n```json\n%s\n```\n\n", pretty.String())
	}

	b.WriteString("## Shared objects\n\n")
	for _, name := range []string{"customer", "address", "lineItem", "fulfillment"} {
		d := readObject(t, defs.values[name])
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", name, d.str("description"))
		propertyTable(t, &b, d, defs)
		b.WriteString("\n")
	}

	b.WriteString("## Adapters\n\n### Shopify (`commerce/shopify`)\n\n")
	b.WriteString("Topics mapped to canonical events; every other topic is kept as `shopify.<topic>` with the payload as data.\n\n| topic | events | notes |\n|---|---|---|\n")
	for _, tp := range shopify.Topics() {
		name := "`" + tp.Topic + "`"
		for _, a := range tp.Aliases {
			name += " (also `" + a + "`)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, "`"+strings.Join(tp.Types, "`, `")+"`", tp.Note)
	}
	b.WriteString("\n### WooCommerce (`commerce/woocommerce`)\n\n")
	b.WriteString("Topics mapped; every other topic is kept as `woocommerce.<topic>` with the payload as data. The activation ping (`webhook_id=N`) is answered and creates nothing.\n\n| topic | events | notes |\n|---|---|---|\n")
	for _, tp := range woocommerce.Topics() {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", tp.Topic, "`"+strings.Join(tp.Types, "`, `")+"`", tp.Note)
	}
	b.WriteString("\n### Generic signed webhooks (`commerce/generic`)\n\n" +
		"A configuration names the source, its HMAC header (hex or base64, SHA-256, SHA-1 or SHA-512, an optional prefix such as `sha256=`), " +
		"where the shop comes from, and mappings: the type (fixed, or chosen by a value of the body), JSON Pointers to the event's id, subject and time, " +
		"and the data, each canonical path read from a pointer into the body. See the package documentation and its examples.\n")
	return []byte(b.String())
}

// orderedExample re-encodes a schema's example with its keys in the order
// the schema file writes them (a decoded map would sort them).
func orderedExample(t *testing.T, schemaRaw []byte) []byte {
	var examples []json.RawMessage
	require.NoError(t, json.Unmarshal(readObject(t, schemaRaw).values["examples"], &examples))
	var out bytes.Buffer
	require.NoError(t, json.Compact(&out, examples[0]))
	return out.Bytes()
}
