package sending_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/sending"
	"github.com/storeflow/storeflow/server"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

// world is storeflow with the sending rules in front of real connectors: a
// SQLite store, the durable runtime on a virtual clock, a real SMTP server
// (emersion/go-smtp) and a Twilio stand-in on the loopback interface, and
// the API for the unsubscribe link.
type world struct {
	t     *testing.T
	st    *sqlite.Store
	vc    *clock.Virtual
	rt    *runtime.Runtime
	mail  *mailbox
	sms   *smsbox
	shop  *shop.Shop
	links *email.UnsubscribeLinks
	api   *httptest.Server
	seq   int
}

func newWorld(t *testing.T, start time.Time, edit func(*shop.Shop)) *world {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	w := &world{t: t, st: st, vc: clock.NewVirtual(start), mail: startMailbox(t), sms: startSMSBox(t)}
	w.shop = &shop.Shop{ID: "acme", Platform: shop.Shopify, Domain: "acme.myshopify.com", Currency: "EUR", Country: "DE",
		TimeZone: "Europe/Berlin", Webhooks: shop.Webhooks{Secret: "s"},
		Email: &shop.Email{Host: "127.0.0.1", Port: w.mail.port, Security: "none", From: "shop@acme.example", FromName: "Acme"},
		SMS:   &shop.SMS{BaseURL: w.sms.URL, AccountSID: "AC123", AuthToken: "secret", From: "+4915123456789"}}
	if edit != nil {
		edit(w.shop)
	}
	w.shop.Normalize()
	require.Empty(t, w.shop.Validate())
	shops := shopconfig.Fixed(map[string]*shop.Shop{"acme": w.shop})
	w.links, err = email.NewUnsubscribeLinks("http://127.0.0.1/unsubscribe", []byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	facts := &sending.Facts{Store: st}
	rules := &sending.Rules{Log: st, Shops: shops, Consents: facts, Conversions: facts, Origins: sending.StoreOrigins{Instances: st}, Clock: w.vc}
	calls := catalog.Default(catalog.Options{Shops: shops, Unsubscribe: w.links, Sending: rules})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("SENDING_DEBUG") != "" {
		quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	rules.Logger = quiet
	w.rt = runtime.New(runtime.Options{Store: st, Clock: w.vc, Shards: 4, Connectors: calls, Logger: quiet})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.rt.Run(runCtx) }()
	w.api = httptest.NewServer(server.New(server.Config{Runtime: w.rt, Store: st, Unsubscribe: w.links}))
	t.Cleanup(func() {
		w.api.Close()
		stop()
		require.NoError(t, <-done)
		_ = st.Close()
	})
	return w
}

// publish stores a workflow and has the runtime load it.
func (w *world) publish(src string) {
	name := strings.Fields(src[strings.Index(src, "\n  name:")+8:])[0]
	_, _, err := w.st.PutWorkflow(context.Background(), store.Workflow{Namespace: "shop", Name: name, Version: "1.0.0", Source: []byte(src)})
	require.NoError(w.t, err)
	require.NoError(w.t, w.rt.Reload(context.Background()))
}

// event logs a canonical commerce event of the shop, checked against its
// schema, as the webhook ingress would.
func (w *world) event(typ, subject string, data map[string]any) {
	w.t.Helper()
	w.seq++
	data["shop"] = "acme"
	e, err := commerce.NewEvent(typ, fmt.Sprintf("%s/%d", typ, w.seq), subject, data)
	require.NoError(w.t, err)
	e.Source = commerce.Source("shopify", "acme")
	env, err := e.Envelope()
	require.NoError(w.t, err)
	_, err = w.rt.Ingest(context.Background(), []store.Event{{ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject, Time: e.Time, Envelope: env}})
	require.NoError(w.t, err)
}

func (w *world) consent(channel, address, state string, at time.Time) {
	customer := map[string]any{"email": address}
	if channel == sending.ChannelSMS {
		customer = map[string]any{"phone": address}
	}
	w.event("commerce.consent.changed", address, map[string]any{"occurredAt": commerce.Timestamp(at), "customer": customer,
		"channel": channel, "state": state})
}

// set moves the virtual clock to t and lets the runtime look at what is due
// then (its loops poll by that clock, so a move alone may find one between
// two looks).
func (w *world) set(t time.Time) {
	w.t.Helper()
	w.vc.Set(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(w.t, w.rt.Settle(ctx))
}

func (w *world) advance(d time.Duration) { w.t.Helper(); w.set(w.vc.Now().Add(d)) }

func (w *world) start(workflow string, input any) string {
	id, err := w.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: workflow}, input)
	require.NoError(w.t, err)
	return id
}

// eventually polls, in real time, until cond holds: generous, since the
// machine may be loaded.
func (w *world) eventually(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *world) state(id string) *engine.Instance {
	rec, err := w.st.GetInstance(context.Background(), id)
	require.NoError(w.t, err)
	in, err := engine.Unmarshal(rec.State)
	require.NoError(w.t, err)
	return in
}

// ended waits for an instance to end and returns it, completed.
func (w *world) ended(id string) *engine.Instance {
	w.t.Helper()
	w.eventually("instance "+id+" ends", func() bool { return w.state(id).Status.Ended() })
	in := w.state(id)
	require.Equal(w.t, engine.StatusCompleted, in.Status, "%+v", in.Error)
	return in
}

// instances lists the instances of a workflow, oldest first.
func (w *world) instances(name string) []string {
	list, err := w.st.ListInstances(context.Background(), store.InstanceQuery{Namespace: "shop", Name: name, Limit: 100})
	require.NoError(w.t, err)
	var ids []string
	for i := len(list) - 1; i >= 0; i-- {
		ids = append(ids, list[i].ID)
	}
	return ids
}

// suppressions returns the message.suppressed entries of an instance's
// history.
func (w *world) suppressions(id string) []map[string]any {
	hist, err := w.st.History(context.Background(), id)
	require.NoError(w.t, err)
	var out []map[string]any
	for _, h := range hist {
		if h.Type != sending.NoteSuppressed {
			continue
		}
		var e struct {
			Detail map[string]any `json:"detail"`
		}
		if err := json.Unmarshal(h.Data, &e); err != nil || e.Detail == nil {
			var d map[string]any
			require.NoError(w.t, json.Unmarshal(h.Data, &d), string(h.Data))
			e.Detail = d
		}
		e.Detail["task"] = h.Task
		out = append(out, e.Detail)
	}
	return out
}

func (w *world) messages(q store.MessageQuery) []store.Message {
	list, err := w.st.ListMessages(context.Background(), q)
	require.NoError(w.t, err)
	return list
}

// statuses lists the log's messages of an instance as "status reason".
func (w *world) statuses(instance string) []string {
	var out []string
	for _, m := range w.messages(store.MessageQuery{Instance: instance}) {
		out = append(out, strings.TrimSpace(m.Status+" "+m.Reason))
	}
	return out
}

// mailbox is a real SMTP server on the loopback interface, without TLS
// (the shop's security: none, allowed to loopback only).
type mailbox struct {
	port int
	mu   sync.Mutex
	msgs []mailed
}

type mailed struct {
	To   []string
	Data string
}

func startMailbox(t *testing.T) *mailbox {
	mb := &mailbox{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }))
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 30*time.Second, 30*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	mb.port = l.Addr().(*net.TCPAddr).Port
	return mb
}

func (mb *mailbox) received() []mailed {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]mailed(nil), mb.msgs...)
}

type mailSession struct {
	mb *mailbox
	to []string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, mailed{To: s.to, Data: string(b)})
	s.mb.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }

// smsbox stands in for Twilio's Messages API.
type smsbox struct {
	*httptest.Server
	mu  sync.Mutex
	got []map[string]string
}

func startSMSBox(t *testing.T) *smsbox {
	b := &smsbox{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "AC123" || pass != "secret" || r.ParseForm() != nil {
			http.Error(rw, `{"code":20003,"message":"Authenticate"}`, http.StatusUnauthorized)
			return
		}
		b.mu.Lock()
		b.got = append(b.got, map[string]string{"To": r.PostForm.Get("To"), "Body": r.PostForm.Get("Body")})
		n := len(b.got)
		b.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusCreated)
		fmt.Fprintf(rw, `{"sid":"SM%032d","status":"queued","to":%q,"from":"+4915123456789","num_segments":"1"}`, n, r.PostForm.Get("To"))
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *smsbox) received() []map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]string(nil), b.got...)
}
