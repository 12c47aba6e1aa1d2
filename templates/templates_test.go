package templates_test

import (
	"context"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/mailbox"
	"github.com/storeflow/storeflow/pretest"
	"github.com/storeflow/storeflow/semver"
	"github.com/storeflow/storeflow/templates"
)

// library is every template the README lists, in its order.
var library = []string{
	"abandoned-checkout",
	"b2b-quote",
	"browse-abandonment",
	"customer-sync",
	"low-stock",
	"order-processing",
	"loyalty",
	"post-purchase",
	"returns",
	"win-back",
	"welcome-series",
}

func TestTheLibraryHoldsEveryTemplate(t *testing.T) {
	t.Parallel()
	all, err := templates.All()
	require.NoError(t, err)
	var names []string
	for _, tpl := range all {
		names = append(names, tpl.Name)
	}
	require.ElementsMatch(t, library, names)
}

func TestEveryTemplateIsAValidWorkflowWithDocumentedParameters(t *testing.T) {
	t.Parallel()
	all, err := templates.All()
	require.NoError(t, err)
	builtins := catalog.Default(catalog.Options{})
	for _, tpl := range all {
		t.Run(tpl.Name, func(t *testing.T) {
			t.Parallel()
			_, err := dsl.LoadWith(tpl.Name+".yaml", tpl.Source, dsl.Options{Builtins: builtins})
			require.NoError(t, err)
			require.Equal(t, "templates", tpl.Namespace)
			require.True(t, semver.Valid(tpl.Version), tpl.Version)
			require.NotEmpty(t, tpl.Title)
			require.NotEmpty(t, tpl.Summary)
			require.NotEmpty(t, tpl.Test, "every template has its pretests, %s.test.yaml", tpl.Name)
			require.NotEmpty(t, tpl.Parameters, "every template says what a merchant may set")

			same, err := tpl.Render(nil)
			require.NoError(t, err)
			require.Equal(t, string(tpl.Source), string(same), "no values, no change")

			for _, p := range tpl.Parameters {
				require.NotEmpty(t, p.Description, p.Name)
				v := other(t, p)
				out, err := tpl.Render(map[string]string{p.Name: v})
				require.NoError(t, err, p.Name)
				_, err = dsl.LoadWith(tpl.Name+".yaml", out, dsl.Options{Builtins: builtins})
				require.NoError(t, err, "%s=%s gives an invalid workflow", p.Name, v)
				again, err := templates.Parse(tpl.Name, out)
				require.NoError(t, err)
				got, err := again.Parameter(p.Name)
				require.NoError(t, err)
				require.Equal(t, v, got.Default, "%s is written where the template reads it", p.Name)
				require.Equal(t, len(strings.Split(string(tpl.Source), "\n")), len(strings.Split(string(out), "\n")), "only the value changes")
			}
		})
	}
}

// other is a valid value of the parameter other than its default.
func other(t *testing.T, p templates.Parameter) string {
	switch p.Type {
	case templates.TypeDuration:
		d, err := dsl.ParseISODuration(p.Default)
		require.NoError(t, err)
		return fmt.Sprintf("PT%dS", int((2 * d).Seconds()))
	case templates.TypeNumber, templates.TypeInteger:
		n, err := strconv.ParseFloat(p.Default, 64)
		require.NoError(t, err)
		return strconv.Itoa(int(n) + 1)
	case templates.TypeBoolean:
		return strconv.FormatBool(p.Default != "true")
	case templates.TypeCron:
		return "15 6 * * *"
	case templates.TypeEnum:
		for _, v := range p.Values {
			if v != p.Default {
				return v
			}
		}
	}
	return p.Default + "x"
}

func TestRenderRefusesWhatIsNoParameterValue(t *testing.T) {
	t.Parallel()
	tpl, err := templates.Get("abandoned-checkout")
	require.NoError(t, err)
	for set, want := range map[string]string{
		"firstDelays=PT2H":                `no parameter "firstDelays"; did you mean "firstDelay"?`,
		"firstDelay=2 hours":              `"2 hours" is not an ISO 8601 duration`,
		"discountPercent=ten":             `"ten" is not a number`,
		"codePrefix=${ $secrets.x }":      "not expressions",
		"codePrefix=two\nlines":           "one line",
		"freeShippingValidFor=PT0S":       "above zero",
		"secondDelay=P1D\" # injected: 1": "not an ISO 8601 duration",
	} {
		k, v, _ := strings.Cut(set, "=")
		_, err := tpl.Render(map[string]string{k: v})
		require.ErrorContains(t, err, want, set)
	}
	_, err = templates.Get("abandoned-chekout")
	require.ErrorIs(t, err, templates.ErrUnknown)
}

func TestStringValuesAreQuoted(t *testing.T) {
	t.Parallel()
	tpl, err := templates.Get("abandoned-checkout")
	require.NoError(t, err)
	out, err := tpl.Render(map[string]string{"codePrefix": `SAVE "10": #1`, "firstDelay": "PT2H"})
	require.NoError(t, err)
	again, err := templates.Parse(tpl.Name, out)
	require.NoError(t, err)
	p, err := again.Parameter("codePrefix")
	require.NoError(t, err)
	require.Equal(t, `SAVE "10": #1`, p.Default)
	_, err = dsl.LoadWith("x.yaml", out, dsl.Options{Builtins: catalog.Default(catalog.Options{})})
	require.NoError(t, err)
}

// TestPretestsOfEveryTemplate runs each template's NAME.test.yaml as
// `storeflow test templates/` does, then sends every email the scenarios
// made through the real email connector, with the library's email
// templates, to a mailbox: a template a workflow names but the library
// lacks, or one that needs data the workflow does not give, fails here.
func TestPretestsOfEveryTemplate(t *testing.T) {
	t.Parallel()
	all, err := templates.All()
	require.NoError(t, err)
	emails, err := templates.Emails()
	require.NoError(t, err)
	box, err := mailbox.Start(mailbox.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = box.Close() })
	sender, err := email.NewSender(email.Config{Host: box.Host(), Port: box.Port(), Security: email.None, From: mail.Address{Address: "shop@acme.example"}})
	require.NoError(t, err)
	links, err := email.NewUnsubscribeLinks("http://127.0.0.1:8080/unsubscribe", []byte("a key of the test, 32 bytes long"))
	require.NoError(t, err)
	var mu sync.Mutex
	used := map[string]bool{}
	// Scenarios wait on the runtime far more than they compute: run them
	// side by side.
	t.Run("scenarios", func(t *testing.T) {
		for _, tpl := range all {
			f, err := pretest.LoadFile(tpl.Name + ".test.yaml")
			require.NoError(t, err)
			require.NotEmpty(t, f.Scenarios)
			for _, sc := range f.Scenarios {
				t.Run(tpl.Name+"/"+sc.Name, func(t *testing.T) {
					t.Parallel()
					results := pretest.RunFile(context.Background(), f, pretest.Options{Run: sc.Name})
					require.Len(t, results, 1)
					r := results[0]
					for _, fl := range r.Failures {
						t.Errorf("%s", fl)
					}
					for _, c := range r.Calls {
						if c.Call != email.Name {
							continue
						}
						args, _ := c.Args.(map[string]any)
						name, _ := args["template"].(string)
						mu.Lock()
						used[name] = true
						mu.Unlock()
						shop, _ := args["shop"].(string)
						conn := &email.Connector{Senders: map[string]*email.Sender{shop: sender}, Templates: emails, Unsubscribe: links}
						ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
						out, err := conn.Call(ctx, connector.Request{Kind: connector.KindFunction, Function: email.Name, Args: args,
							IdempotencyKey: c.Instance + c.Task, At: pretest.DefaultStart.Add(c.Offset)})
						cancel()
						require.NoError(t, err, "%s at %s: email template %q", c.Task, c.At, name)
						require.NotContains(t, fmt.Sprint(out), "<no value>")
					}
				})
			}
		}
	})
	names, err := templates.EmailNames()
	require.NoError(t, err)
	for _, n := range names {
		require.True(t, used[n], "email template %q of emails.yaml is sent by no pretest of the library", n)
	}
	for _, m := range box.Messages() {
		require.NotContains(t, m.Text, "<no value>", m.Subject)
		require.NotEmpty(t, m.Subject)
	}
}

func TestInstallNeedsTheRequiredAndMayChangeTheVersion(t *testing.T) {
	t.Parallel()
	tpl, err := templates.Get("win-back")
	require.NoError(t, err)
	_, err = tpl.Install(nil, "")
	require.ErrorContains(t, err, "needs --set shop=")
	out, err := tpl.Install(map[string]string{"shop": "acme", "every": "PT12H"}, "1.0.1")
	require.NoError(t, err)
	again, err := templates.Parse(tpl.Name, out)
	require.NoError(t, err)
	require.Equal(t, "1.0.1", again.Version)
	p, err := again.Parameter("every")
	require.NoError(t, err)
	require.Equal(t, "PT12H", p.Default)
	_, err = tpl.Install(map[string]string{"shop": "acme"}, "one")
	require.ErrorContains(t, err, "not a semantic version")
}
