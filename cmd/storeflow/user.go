package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/storeflow/storeflow/user"
)

// runUser manages the people who answer tasks, through the API of a
// running storeflow.
func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, `Usage: storeflow user add|list|remove [flags]

  add      add a user:      storeflow user add --id alice --name "Alice Smith" --email alice@acme.example --password @alice.pw --role acme:sales-manager --role acme:operator
  list     list the users:  storeflow user list [--shop acme]
  remove   remove a user:   storeflow user remove alice

Roles are SHOP:ROLE; built in: `+strings.Join(user.BuiltinRoles, ", ")+` (any other name is a role of the shop's own).
A user logs in with POST /v1/login to answer tasks; see README "Approval tasks".
Flags of every subcommand: --server URL (env STOREFLOW_SERVER, default http://127.0.0.1:8080), --token T (env STOREFLOW_TOKEN).`)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, args := args[0], args[1:]
	fl := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fl.SetOutput(stderr)
	serverURL := fl.String("server", envOr("STOREFLOW_SERVER", "http://127.0.0.1:8080"), "the storeflow API (env STOREFLOW_SERVER)")
	token := fl.String("token", envOr("STOREFLOW_TOKEN", ""), "API token (env STOREFLOW_TOKEN)")
	c := &apiClient{}
	switch sub {
	case "add":
		var u user.User
		fl.StringVar(&u.ID, "id", "", "the user's login name (lower-case letters, digits, '.', '_', '-', '@')")
		fl.StringVar(&u.Name, "name", "", "the user's name")
		fl.StringVar(&u.Email, "email", "", "the user's email address")
		password := fl.String("password", "", fmt.Sprintf("the password (at least %d characters), or @FILE to keep it out of the shell history; none: the user cannot log in", user.MinPassword))
		var roles listFlag
		fl.Var(&roles, "role", "a role in a shop, SHOP:ROLE (acme:sales-manager); repeatable")
		if err := fl.Parse(args); err != nil {
			return flagExit(err)
		}
		if u.ID == "" {
			fmt.Fprintln(stderr, "storeflow user add: --id is required")
			return 2
		}
		u.Roles = map[string][]string{}
		for _, r := range roles {
			shop, role, ok := strings.Cut(r, ":")
			if !ok || shop == "" || role == "" {
				fmt.Fprintf(stderr, "storeflow user add: --role %q: write SHOP:ROLE, such as acme:sales-manager\n", r)
				return 2
			}
			u.Roles[shop] = append(u.Roles[shop], role)
		}
		if *password != "" {
			v, err := flagValue(*password)
			if err != nil {
				fmt.Fprintf(stderr, "storeflow user add: --password: %v\n", err)
				return 2
			}
			u.Password = v
		}
		c.base, c.token = *serverURL, *token
		var added user.User
		if err := c.do(ctx, http.MethodPost, "/v1/users", u, &added); err != nil {
			fmt.Fprintf(stderr, "storeflow user add: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "user %s added; roles: %s\n", added.ID, rolesText(added.Roles))
		return 0
	case "list":
		shop := fl.String("shop", "", "only users with a role in this shop")
		if err := fl.Parse(args); err != nil {
			return flagExit(err)
		}
		c.base, c.token = *serverURL, *token
		var out struct {
			Users []user.User `json:"users"`
		}
		path := "/v1/users"
		if *shop != "" {
			path += "?shop=" + url.QueryEscape(*shop)
		}
		if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
			fmt.Fprintf(stderr, "storeflow user list: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tEMAIL\tROLES\tLOGIN")
		for _, u := range out.Users {
			login := "no password"
			if u.HasPassword {
				login = "password"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, u.Name, u.Email, rolesText(u.Roles), login)
		}
		_ = tw.Flush()
		return 0
	case "remove":
		if err := fl.Parse(reorderFlags(fl, args)); err != nil {
			return flagExit(err)
		}
		if fl.NArg() != 1 {
			fmt.Fprintln(stderr, "Usage: storeflow user remove ID")
			return 2
		}
		c.base, c.token = *serverURL, *token
		if err := c.do(ctx, http.MethodDelete, "/v1/users/"+url.PathEscape(fl.Arg(0)), nil, nil); err != nil {
			fmt.Fprintf(stderr, "storeflow user remove: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "user %s removed\n", fl.Arg(0))
		return 0
	}
	fmt.Fprintf(stderr, "storeflow user: unknown subcommand %q\n\n", sub)
	usage(stderr)
	return 2
}

// rolesText writes roles as SHOP:ROLE, sorted.
func rolesText(roles map[string][]string) string {
	var out []string
	for shop, list := range roles {
		for _, r := range list {
			out = append(out, shop+":"+r)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
