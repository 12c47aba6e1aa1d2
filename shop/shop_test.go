package shop_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/secret"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

func acme() shop.Shop {
	return shop.Shop{
		ID: "acme", Platform: "shopify", Domain: "ACME.myshopify.com", TimeZone: "Europe/Berlin", Currency: "eur",
		Webhooks: shop.Webhooks{Secret: "whsec-1"},
		Admin:    &shop.Admin{URL: "https://acme.myshopify.com", APIVersion: "2026-04", AccessToken: "shpat_secret"},
		Email:    &shop.Email{Host: "smtp.example", Username: "mailer", Password: "smtp-pass", From: "shop@acme.example"},
		SMS:      &shop.SMS{AccountSID: "AC1", AuthToken: "twilio-token", From: "+4915112345678"},
		Slack:    &shop.Slack{WebhookURL: "https://hooks.slack.com/services/T/B/X"},
		Secrets:  map[string]string{"erpToken": "erp-secret"},
	}
}

func TestValidateNamesEachProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*shop.Shop)
		want   string
	}{
		{"bad id", func(s *shop.Shop) { s.ID = "Acme Shop" }, "id:"},
		{"bad platform", func(s *shop.Shop) { s.Platform = "magento" }, "platform:"},
		{"shopify without myshopify domain", func(s *shop.Shop) { s.Domain = "acme.example" }, "domain:"},
		{"woocommerce without site", func(s *shop.Shop) { s.Platform = "woocommerce"; s.Domain = ""; s.Admin = nil }, "siteUrl:"},
		{"generic without its configuration", func(s *shop.Shop) { s.Platform = "generic"; s.Admin = nil }, "webhooks.generic:"},
		{"zone", func(s *shop.Shop) { s.TimeZone = "Mars/Olympus" }, "timeZone:"},
		{"currency", func(s *shop.Shop) { s.Currency = "euro" }, "currency:"},
		{"no secret", func(s *shop.Shop) { s.Webhooks.Secret = "" }, "webhooks.secret:"},
		{"admin token", func(s *shop.Shop) { s.Admin.AccessToken = "" }, "admin.accessToken:"},
		{"email from", func(s *shop.Shop) { s.Email.From = "not an address" }, "email.from:"},
		{"email security", func(s *shop.Shop) { s.Email.Security = "ssl" }, "email.security:"},
		{"sms from", func(s *shop.Shop) { s.SMS.From = "0151 123" }, "sms.from:"},
		{"slack", func(s *shop.Shop) { s.Slack.WebhookURL = "hooks" }, "slack.webhookUrl:"},
		{"quiet hours", func(s *shop.Shop) { s.Sending.QuietHours = shop.QuietHours{Start: "9pm", End: "08:00"} }, "sending.quietHours:"},
		{"vip", func(s *shop.Shop) { s.Segments.VIPSpend = "1,000" }, "segments.vipSpend:"},
		{"secret name", func(s *shop.Shop) { s.Secrets = map[string]string{"erp token": "x"} }, "secrets:"},
		{"template syntax", func(s *shop.Shop) { s.EmailTemplates = map[string]shop.EmailTemplate{"w": {Text: "Hi {{.name"}} }, "emailTemplates.w:"},
		{"template body", func(s *shop.Shop) { s.EmailTemplates = map[string]shop.EmailTemplate{"w": {Subject: "Hi"}} }, "emailTemplates.w:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := acme()
			tc.change(&s)
			s.Normalize()
			errs := s.Validate()
			require.Len(t, errs, 1, errs)
			require.True(t, strings.HasPrefix(errs[0], tc.want), errs[0])
		})
	}
	s := acme()
	s.Normalize()
	require.Empty(t, s.Validate())
	require.Equal(t, "acme.myshopify.com", s.Domain)
	require.Equal(t, "EUR", s.Currency)
	require.Equal(t, 587, s.Email.Port)
	require.Equal(t, "starttls", s.Email.Security)
	require.Equal(t, 16*time.Hour, s.Sending.SmartSendingEmail.Duration)
	require.Equal(t, shop.QuietHours{Start: "21:00", End: "08:00"}, s.Sending.QuietHours)

	var off shop.Shop
	require.NoError(t, json.Unmarshal([]byte(`{"sending":{"smartSendingSms":"0s","smartSendingEmail":"2h"}}`), &off))
	off.Normalize()
	require.Equal(t, time.Duration(0), off.Sending.SmartSendingSMS.Duration, "0s turns smart sending off")
	require.Equal(t, 2*time.Hour, off.Sending.SmartSendingEmail.Duration)
	b, err := json.Marshal(off.Sending)
	require.NoError(t, err)
	var again shop.Sending
	require.NoError(t, json.Unmarshal(b, &again))
	require.Equal(t, off.Sending, again, "a deliberate 0s survives storing: %s", b)

	w := shop.Shop{ID: "woo", Platform: "woocommerce", SiteURL: "https://Shop.Example/", Currency: "USD", Webhooks: shop.Webhooks{Secret: "s"}}
	w.Normalize()
	require.Empty(t, w.Validate())
	require.Equal(t, "shop.example", w.Domain, "the domain comes from the site URL")
	require.Equal(t, "UTC", w.TimeZone)
}

type fixture struct {
	st  store.Store
	key *secret.Key
	dir *shop.Directory
}

func newFixture(t *testing.T) fixture {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	key, _, err := secret.GenerateKey()
	require.NoError(t, err)
	return fixture{st: st, key: key, dir: shop.NewDirectory(st, key)}
}

func TestSecretsAreSealedAtRestAndNeverShown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.dir.Add(ctx, acme())
	require.NoError(t, err)

	rec, err := f.st.GetShop(ctx, "acme")
	require.NoError(t, err)
	at := string(rec.Config) + string(rec.Sealed)
	for _, s := range []string{"whsec-1", "shpat_secret", "smtp-pass", "twilio-token", "hooks.slack.com", "erp-secret"} {
		require.NotContains(t, at, s, "a secret is stored in clear")
	}

	got, err := f.dir.Get(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, "shpat_secret", got.Admin.AccessToken)
	require.Equal(t, "smtp-pass", got.Email.Password)
	require.Equal(t, "https://hooks.slack.com/services/T/B/X", got.Slack.WebhookURL)
	require.Equal(t, "erp-secret", got.Secrets["erpToken"])

	view, err := json.Marshal(got.Redacted())
	require.NoError(t, err)
	for _, s := range []string{"whsec-1", "shpat_secret", "smtp-pass", "twilio-token", "hooks.slack.com", "erp-secret"} {
		require.NotContains(t, string(view), s, "a view shows a secret")
	}
	require.Contains(t, string(view), `"secretsSet":["admin.accessToken","email.password","secrets.erpToken","slack.webhookUrl","sms.authToken","webhooks.secret"]`)

	other, _, err := secret.GenerateKey()
	require.NoError(t, err)
	_, err = shop.NewDirectory(f.st, other).Get(ctx, "acme")
	require.ErrorIs(t, err, secret.ErrWrongKey)
	require.ErrorContains(t, err, secret.EnvKey)

	ws, err := f.dir.WorkflowSecrets(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"acme": map[string]any{"erpToken": "erp-secret",
		"admin": map[string]any{"url": "https://acme.myshopify.com", "accessToken": "shpat_secret"}}}, ws)
}

func TestUpdateKeepsSecretsAndRotatesTheWebhookSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.dir.Add(ctx, acme())
	require.NoError(t, err)
	_, err = f.dir.Add(ctx, acme())
	require.ErrorIs(t, err, store.ErrShopExists)

	change := acme()
	change.TimeZone = "America/New_York"
	change.Webhooks.Secret, change.Admin.AccessToken, change.Email.Password, change.Secrets = "", "", "", nil
	got, err := f.dir.Update(ctx, change)
	require.NoError(t, err)
	require.Equal(t, "America/New_York", got.TimeZone)
	require.Equal(t, "whsec-1", got.Webhooks.Secret, "an empty secret keeps the stored one")
	require.Equal(t, "shpat_secret", got.Admin.AccessToken)
	require.Equal(t, "erp-secret", got.Secrets["erpToken"])
	require.Len(t, got.AcceptsSecretAt(time.Now()), 1, "no rotation under way")

	rotate := acme()
	rotate.Webhooks.Secret = "whsec-2"
	got, err = f.dir.Update(ctx, rotate)
	require.NoError(t, err)
	now := time.Now()
	require.Equal(t, [][]byte{[]byte("whsec-2"), []byte("whsec-1")}, got.AcceptsSecretAt(now), "the old secret is still accepted")
	require.Equal(t, [][]byte{[]byte("whsec-2")}, got.AcceptsSecretAt(now.Add(shop.RotationGrace+time.Minute)), "until the grace ends")

	got, err = f.dir.ByDomain(ctx, "shopify", "Acme.MyShopify.com")
	require.NoError(t, err)
	require.Equal(t, "whsec-2", got.Webhooks.Secret)

	_, err = f.dir.Update(ctx, shop.Shop{ID: "nobody"})
	require.ErrorIs(t, err, store.ErrNotFound)
	bad := acme()
	bad.Currency = "euro"
	_, err = f.dir.Update(ctx, bad)
	var invalid *shop.ErrInvalid
	require.ErrorAs(t, err, &invalid)

	require.NoError(t, f.dir.Remove(ctx, "acme"))
	_, err = f.dir.Get(ctx, "acme")
	require.ErrorIs(t, err, store.ErrNotFound)
}
