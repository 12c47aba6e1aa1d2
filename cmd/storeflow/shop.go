package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/storeflow/storeflow/shop"
)

// runShop manages the shops of a running storeflow through its API, so
// that it works the same for one node on SQLite and for a cluster.
func runShop(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, `Usage: storeflow shop add|update|list|remove [flags]

  add      add a shop:        storeflow shop add --id acme --platform shopify --domain acme.myshopify.com --currency EUR --webhook-secret @secret.txt
                               or: storeflow shop add --file acme.yaml (the whole configuration, as POST /v1/shops takes it)
  update   change a shop:     storeflow shop update --id acme --time-zone Europe/Berlin (secrets left out are kept)
  list     list the shops (secrets are never shown)
  remove   remove a shop:     storeflow shop remove acme

Flags of every subcommand: --server URL (env STOREFLOW_SERVER, default http://127.0.0.1:8080), --token T (env STOREFLOW_TOKEN).
Secret values may be given as @FILE to keep them out of the shell history.`)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, args := args[0], args[1:]
	fl := flag.NewFlagSet("shop "+sub, flag.ContinueOnError)
	fl.SetOutput(stderr)
	serverURL := fl.String("server", envOr("STOREFLOW_SERVER", "http://127.0.0.1:8080"), "the storeflow API (env STOREFLOW_SERVER)")
	token := fl.String("token", envOr("STOREFLOW_TOKEN", ""), "API token (env STOREFLOW_TOKEN)")
	c := &apiClient{}
	switch sub {
	case "add", "update":
		var s shop.Shop
		file := fl.String("file", "", "the shop's whole configuration, JSON or YAML")
		fl.StringVar(&s.ID, "id", "", "the shop's id (lower-case letters, digits, dashes)")
		fl.StringVar(&s.Platform, "platform", "", "shopify, woocommerce or generic")
		fl.StringVar(&s.Domain, "domain", "", "Shopify: the shop's myshopify.com domain")
		fl.StringVar(&s.SiteURL, "site-url", "", "WooCommerce: the site's URL")
		fl.StringVar(&s.TimeZone, "time-zone", "", "IANA time zone (Europe/Berlin); UTC by default")
		fl.StringVar(&s.Currency, "currency", "", "ISO 4217 currency (EUR)")
		fl.StringVar(&s.Country, "country", "", "ISO 3166-1 country phone numbers are read in (DE)")
		secretFlag := fl.String("webhook-secret", "", "the secret that signs the shop's webhooks, or @FILE")
		if err := fl.Parse(args); err != nil {
			return flagExit(err)
		}
		if *file != "" {
			if err := readShopFile(*file, &s); err != nil {
				fmt.Fprintf(stderr, "storeflow shop %s: %v\n", sub, err)
				return 2
			}
		}
		if *secretFlag != "" {
			v, err := flagValue(*secretFlag)
			if err != nil {
				fmt.Fprintf(stderr, "storeflow shop %s: --webhook-secret: %v\n", sub, err)
				return 2
			}
			s.Webhooks.Secret = v
		}
		if s.ID == "" {
			fmt.Fprintf(stderr, "storeflow shop %s: --id (or id in --file) is required\n", sub)
			return 2
		}
		c.base, c.token = *serverURL, *token
		method, path := http.MethodPost, "/v1/shops"
		if sub == "update" {
			method, path = http.MethodPut, "/v1/shops/"+s.ID
		}
		var view shop.View
		if err := c.do(ctx, method, path, s, &view); err != nil {
			fmt.Fprintf(stderr, "storeflow shop %s: %v\n", sub, err)
			return 1
		}
		fmt.Fprintf(stdout, "shop %s (%s %s) saved; secrets set: %s\n", view.ID, view.Platform, view.Domain, strings.Join(view.SecretsSet, ", "))
		return 0
	case "list":
		if err := fl.Parse(args); err != nil {
			return flagExit(err)
		}
		c.base, c.token = *serverURL, *token
		var out struct {
			Shops []shop.View `json:"shops"`
		}
		if err := c.do(ctx, http.MethodGet, "/v1/shops", nil, &out); err != nil {
			fmt.Fprintf(stderr, "storeflow shop list: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPLATFORM\tDOMAIN\tTIME ZONE\tCURRENCY\tCHANNELS")
		for _, s := range out.Shops {
			var ch []string
			if s.Email != nil {
				ch = append(ch, "email")
			}
			if s.SMS != nil {
				ch = append(ch, "sms")
			}
			if s.Slack != nil {
				ch = append(ch, "slack")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Platform, s.Domain, s.TimeZone, s.Currency, strings.Join(ch, ","))
		}
		_ = tw.Flush()
		return 0
	case "remove":
		if err := fl.Parse(args); err != nil {
			return flagExit(err)
		}
		if fl.NArg() != 1 {
			fmt.Fprintln(stderr, "Usage: storeflow shop remove ID")
			return 2
		}
		c.base, c.token = *serverURL, *token
		if err := c.do(ctx, http.MethodDelete, "/v1/shops/"+fl.Arg(0), nil, nil); err != nil {
			fmt.Fprintf(stderr, "storeflow shop remove: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "shop %s removed\n", fl.Arg(0))
		return 0
	}
	fmt.Fprintf(stderr, "storeflow shop: unknown subcommand %q\n\n", sub)
	usage(stderr)
	return 2
}

// readShopFile reads a shop's configuration from JSON or YAML, refusing
// unknown settings.
func readShopFile(name string, s *shop.Shop) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if !json.Valid(b) {
		var v any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("%s is neither JSON nor YAML: %w", name, err)
		}
		if b, err = json.Marshal(v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// flagValue reads @FILE values.
func flagValue(v string) (string, error) {
	name, ok := strings.CutPrefix(v, "@")
	if !ok {
		return v, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// apiClient calls a storeflow API.
type apiClient struct {
	base, token string
}

func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	return c.send(ctx, method, path, "application/json", b, out)
}

// send makes a request with a body as it is (none when nil) and decodes
// the JSON answer into out; an error answer is its problem's text.
func (c *apiClient) send(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.base, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w (is storeflow serve running at %s? set --server)", err, c.base)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var p struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
			Errors []any  `json:"errors"`
		}
		if json.Unmarshal(data, &p) == nil && p.Title != "" {
			msg := fmt.Sprintf("%s (%d): %s", p.Title, resp.StatusCode, p.Detail)
			for _, e := range p.Errors {
				msg += fmt.Sprintf("\n  %v", e)
			}
			return fmt.Errorf("%s", msg)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}
