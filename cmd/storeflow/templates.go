package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/storeflow/storeflow/templates"
)

// runTemplates lists the template library and installs templates into a
// running storeflow: rendered here, with the --set values, and posted as
// workflows (POST /v1/workflows), so that it works against any storeflow.
func runTemplates(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, `Usage: storeflow templates list [-v]
       storeflow templates show NAME
       storeflow templates install NAME...|--all [--set [NAME.]KEY=VALUE]... [--version V] [--server URL] [--token T]

  list      the library's templates; -v with their parameters (type, default, description)
  show      a template's workflow, as install would post it with the defaults
  install   renders each template with the --set values and posts it to the storeflow at --server
            (env STOREFLOW_SERVER, default http://127.0.0.1:8080; --token or STOREFLOW_TOKEN).
            --set KEY=VALUE sets the parameter of every template that has one of that name,
            --set NAME.KEY=VALUE that of one template. A template installed already with other
            settings needs a new --version.`)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, args := args[0], args[1:]
	fl := flag.NewFlagSet("templates "+sub, flag.ContinueOnError)
	fl.SetOutput(stderr)
	all, err := templates.All()
	if err != nil {
		fmt.Fprintf(stderr, "storeflow templates: %v\n", err)
		return 1
	}
	switch sub {
	case "list":
		verbose := fl.Bool("v", false, "show every template's parameters")
		if err := fl.Parse(reorderFlags(fl, args)); err != nil {
			return flagExit(err)
		}
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		if !*verbose {
			fmt.Fprintln(tw, "NAME\tVERSION\tTITLE")
		}
		for _, t := range all {
			if !*verbose {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Version, t.Title)
				continue
			}
			fmt.Fprintf(stdout, "%s %s: %s\n", t.Name, t.Version, t.Title)
			pw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
			for _, p := range t.Parameters {
				def := p.Default
				if p.Required {
					def += " (required)"
				}
				fmt.Fprintf(pw, "  %s\t%s\t%s\t%s\n", p.Name, p.Type, def, p.Description)
			}
			_ = pw.Flush()
			fmt.Fprintln(stdout)
		}
		_ = tw.Flush()
		return 0
	case "show":
		if err := fl.Parse(reorderFlags(fl, args)); err != nil {
			return flagExit(err)
		}
		if fl.NArg() != 1 {
			fmt.Fprintln(stderr, "Usage: storeflow templates show NAME")
			return 2
		}
		t, err := templates.Get(fl.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "storeflow templates show: %v\n", err)
			return 1
		}
		_, _ = stdout.Write(t.Source)
		return 0
	case "install":
		serverURL := fl.String("server", envOr("STOREFLOW_SERVER", "http://127.0.0.1:8080"), "the storeflow API (env STOREFLOW_SERVER)")
		token := fl.String("token", envOr("STOREFLOW_TOKEN", ""), "API token (env STOREFLOW_TOKEN)")
		every := fl.Bool("all", false, "install every template of the library")
		version := fl.String("version", "", "install under this version instead of the template's")
		var sets listFlag
		fl.Var(&sets, "set", "a parameter's value, KEY=VALUE or TEMPLATE.KEY=VALUE; repeatable")
		if err := fl.Parse(reorderFlags(fl, args)); err != nil {
			return flagExit(err)
		}
		chosen, err := chooseTemplates(all, fl.Args(), *every)
		if err != nil {
			fmt.Fprintf(stderr, "storeflow templates install: %v\n", err)
			return 2
		}
		perTemplate, err := templateSettings(chosen, sets)
		if err != nil {
			fmt.Fprintf(stderr, "storeflow templates install: %v\n", err)
			return 2
		}
		// Every template renders before any is posted: a missing setting
		// installs nothing.
		sources := make([][]byte, len(chosen))
		failed := 0
		for i, t := range chosen {
			if sources[i], err = t.Install(perTemplate[t.Name], *version); err != nil {
				fmt.Fprintf(stderr, "storeflow templates install: %v\n", err)
				failed++
			}
		}
		if failed > 0 {
			fmt.Fprintln(stderr, "storeflow templates install: nothing was installed")
			return 1
		}
		c := &apiClient{base: *serverURL, token: *token}
		for i, t := range chosen {
			var out struct {
				Namespace, Name, Version string
			}
			if err := c.post(ctx, "/v1/workflows", "application/yaml", sources[i], &out); err != nil {
				fmt.Fprintf(stderr, "storeflow templates install %s: %v\n", t.Name, err)
				failed++
				continue
			}
			fmt.Fprintf(stdout, "installed %s/%s %s\n", out.Namespace, out.Name, out.Version)
		}
		if failed > 0 {
			return 1
		}
		return 0
	}
	fmt.Fprintf(stderr, "storeflow templates: unknown subcommand %q\n\n", sub)
	usage(stderr)
	return 2
}

func chooseTemplates(all []*templates.Template, names []string, every bool) ([]*templates.Template, error) {
	switch {
	case every && len(names) > 0:
		return nil, fmt.Errorf("give template names or --all, not both")
	case every:
		return all, nil
	case len(names) == 0:
		return nil, fmt.Errorf("name the templates to install (storeflow templates list), or give --all")
	}
	var out []*templates.Template
	for _, n := range names {
		t, err := templates.Get(n)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// templateSettings sorts the --set values by template: KEY=VALUE goes to
// every chosen template with a parameter KEY (at least one must have it),
// NAME.KEY=VALUE to template NAME.
func templateSettings(chosen []*templates.Template, sets []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, t := range chosen {
		out[t.Name] = map[string]string{}
	}
	for _, s := range sets {
		key, value, ok := strings.Cut(s, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--set %q: write KEY=VALUE or TEMPLATE.KEY=VALUE", s)
		}
		if name, param, ok := strings.Cut(key, "."); ok {
			m, chosenOne := out[name]
			if !chosenOne {
				return nil, fmt.Errorf("--set %s: template %s is not being installed", key, name)
			}
			m[param] = value
			continue
		}
		found := false
		for _, t := range chosen {
			if _, err := t.Parameter(key); err == nil {
				out[t.Name][key] = value
				found = true
			}
		}
		if !found {
			if len(chosen) == 1 {
				_, err := chosen[0].Parameter(key)
				return nil, fmt.Errorf("--set %s: %w", key, err)
			}
			return nil, fmt.Errorf("--set %s: no template being installed has that parameter (storeflow templates list -v)", key)
		}
	}
	return out, nil
}

// post sends a body as it is.
func (c *apiClient) post(ctx context.Context, path, contentType string, body []byte, out any) error {
	return c.send(ctx, http.MethodPost, path, contentType, body, out)
}
