package pretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
)

// ReplayOptions say what to replay.
type ReplayOptions struct {
	// Live is the store of a running (or stopped) storeflow; it is only
	// read.
	Live store.Store
	// Workflow is the file of the changed workflow. It must start on
	// events (schedule.on).
	Workflow string
	// Since and Until bound the window of events replayed, by the time
	// they were received; Until defaults to now.
	Since, Until time.Time
	// Sample is the share (0 to 1] of the events that start the workflow
	// which are replayed; the others start nothing. The choice hangs on the
	// events' ids alone, so that two replays sample alike.
	Sample float64
	Logger *slog.Logger
}

// ReplayReport is what a shadow run would have done, beside what the live
// workflow did, for each sampled triggering event.
type ReplayReport struct {
	Workflow string    `json:"workflow"` // namespace/name:version of the changed file
	Since    time.Time `json:"since"`
	Until    time.Time `json:"until"`
	// Events counts the events replayed in the window, History those
	// logged before it for the profiles and sending rules.
	Events   int `json:"events"`
	History  int `json:"history"`
	Triggers int `json:"triggers"` // events in the window that would start the workflow
	Sampled  int `json:"sampled"`
	// WouldSend and LiveSent count calls by name (messages and every
	// other call the shadow made; the messages the live log recorded as
	// sent); WouldSuppress and LiveSuppressed count suppressed messages.
	WouldSend      map[string]int `json:"wouldSend"`
	WouldSuppress  map[string]int `json:"wouldSuppress"`
	LiveSent       map[string]int `json:"liveSent"`
	LiveSuppressed map[string]int `json:"liveSuppressed"`
	Cases          []ReplayCase   `json:"cases"`
	// Failures are problems of the shadow run itself (a workflow that does
	// not compile, a runtime that did not settle).
	Failures []Failure `json:"failures,omitempty"`
}

// ReplayCase is one sampled event: what the shadow did with it, and what
// the live workflow did.
type ReplayCase struct {
	Event        string           `json:"event"` // SOURCE ID
	Type         string           `json:"type"`
	ReceivedAt   time.Time        `json:"receivedAt"`
	ShadowStatus string           `json:"shadowStatus,omitempty"`
	Would        []ReplayMessage  `json:"would"`
	Live         []ReplayMessage  `json:"live"`
	LiveInstance *ReplayLiveState `json:"liveInstance,omitempty"`
}

// ReplayLiveState is the live instance an event started.
type ReplayLiveState struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Status  string `json:"status"`
}

// ReplayMessage is a call made (or a message suppressed), with its time
// after the event.
type ReplayMessage struct {
	Call     string `json:"call"`
	After    string `json:"after"` // ISO 8601, from the event's arrival
	To       string `json:"to,omitempty"`
	Template string `json:"template,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Status   string `json:"status"` // sent (or would be), suppressed, deferred, failed
	Reason   string `json:"reason,omitempty"`
}

const lifecyclePrefix = "io.serverlessworkflow."

// Replay runs a changed workflow in shadow against events already
// recorded: a scenario whose timeline is the live log's events of the
// window (a sample of those that start the workflow, every other one), on
// a temporary store with the live shops' settings, the customer profiles
// and sending rules built from the log before the window, recording
// connectors and a virtual clock. Nothing is sent, and the live store is
// only read.
func Replay(ctx context.Context, opts ReplayOptions) (*ReplayReport, error) {
	if opts.Sample <= 0 || opts.Sample > 1 {
		return nil, fmt.Errorf("sample %v: give a share above 0 and at most 1 (10%% is 0.1)", opts.Sample)
	}
	if opts.Until.IsZero() {
		opts.Until = time.Now().UTC()
	}
	if !opts.Since.Before(opts.Until) {
		return nil, fmt.Errorf("the window from %s to %s is empty", opts.Since.Format(time.RFC3339), opts.Until.Format(time.RFC3339))
	}
	src, err := os.ReadFile(opts.Workflow)
	if err != nil {
		return nil, err
	}
	wf, err := dsl.LoadWith(opts.Workflow, src, dsl.Options{Builtins: catalog.Default(catalog.Options{})})
	if err != nil {
		return nil, err
	}
	types, err := triggerTypes(wf)
	if err != nil {
		return nil, err
	}
	doc := wf.Document
	rep := &ReplayReport{Workflow: doc.Namespace + "/" + doc.Name + ":" + doc.Version, Since: opts.Since.UTC(), Until: opts.Until.UTC(),
		WouldSend: map[string]int{}, WouldSuppress: map[string]int{}, LiveSent: map[string]int{}, LiveSuppressed: map[string]int{}, Cases: []ReplayCase{}}

	f := &File{Path: filepath.Join(filepath.Dir(opts.Workflow), "replay of "+filepath.Base(opts.Workflow)),
		Workflows: []Ref{{Path: filepath.Base(opts.Workflow), Line: 1}}}
	shops, err := opts.Live.ListShops(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the live shops: %w", err)
	}
	for _, rec := range shops {
		var sh shop.Shop
		if err := json.Unmarshal(rec.Config, &sh); err != nil {
			return nil, fmt.Errorf("read live shop %s: %w", rec.ID, err)
		}
		// Its secrets stay sealed in the live store: the shadow sends
		// nothing, so it needs the settings only.
		sh.Webhooks.Secret, sh.Webhooks.PreviousSecret = "", ""
		f.extraShops = append(f.extraShops, sh)
	}
	sc := &Scenario{Name: "replay", Start: &When{Time: rep.Since, Raw: rep.Since.Format(time.RFC3339)},
		For: &Duration{D: rep.Until.Sub(rep.Since), Raw: FormatOffset(rep.Until.Sub(rep.Since))}}
	f.Scenarios = []*Scenario{sc}
	triggers := map[string]store.Event{} // by "SOURCE/ID"
	var after int64
	for {
		batch, err := opts.Live.ReadEvents(ctx, after, "", 1000)
		if err != nil {
			return nil, fmt.Errorf("read the live event log: %w", err)
		}
		for _, ev := range batch {
			after = ev.Seq
			if strings.HasPrefix(ev.Type, lifecyclePrefix) || strings.HasPrefix(ev.Type, "io.storeflow.") {
				continue // the shadow's runtime makes its own
			}
			switch {
			case ev.ReceivedAt.Before(rep.Since):
				// History: what profiles and sending rules are made of.
				if strings.HasPrefix(ev.Type, "commerce.") {
					f.history = append(f.history, ev)
				}
				continue
			case ev.ReceivedAt.After(rep.Until):
				continue
			}
			if slices.Contains(types, ev.Type) || slices.Contains(types, "") {
				rep.Triggers++
				if !sampled(ev, opts.Sample) {
					continue
				}
				rep.Sampled++
				triggers[ev.Source+"/"+ev.ID] = ev
			}
			raw := ev
			sc.Events = append(sc.Events, Event{At: When{Time: ev.ReceivedAt.UTC(), Raw: ev.ReceivedAt.UTC().Format(time.RFC3339Nano)}, Type: ev.Type, raw: &raw})
		}
		if len(batch) < 1000 {
			break
		}
	}
	rep.Events, rep.History = len(sc.Events), len(f.history)

	res := runScenario(ctx, f, sc, Options{Logger: opts.Logger})
	rep.Failures = append(rep.Failures, res.Failures...)
	if err := rep.compare(ctx, opts.Live, wf, triggers, res); err != nil {
		return nil, err
	}
	return rep, nil
}

// triggerTypes are the event types that start a workflow ("" for any).
func triggerTypes(wf *dsl.Workflow) ([]string, error) {
	if wf.Schedule == nil || wf.Schedule.On == nil {
		return nil, errors.New("replay runs workflows that start on events (schedule.on): there is no recorded traffic to give a timed one")
	}
	on := wf.Schedule.On
	filters := slices.Clone(on.Any)
	filters = append(filters, on.All...)
	if on.One != nil {
		filters = append(filters, on.One)
	}
	var types []string
	for _, f := range filters {
		t, _ := f.With["type"].Get().(string)
		types = append(types, t)
	}
	if len(types) == 0 {
		types = []string{""}
	}
	return types, nil
}

// sampled picks events by their identity alone.
func sampled(ev store.Event, share float64) bool {
	if share >= 1 {
		return true
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(ev.Source + "\x00" + ev.ID))
	return float64(h.Sum64()%10_000) < share*10_000
}

// compare puts what the shadow did beside what the live workflow did, for
// each sampled event.
func (rep *ReplayReport) compare(ctx context.Context, live store.Store, wf *dsl.Workflow, triggers map[string]store.Event, res Result) error {
	byInstance := map[string]*ReplayCase{}
	keys := slices.Sorted(maps.Keys(triggers))
	cases := map[string]*ReplayCase{}
	for _, k := range keys {
		ev := triggers[k]
		c := &ReplayCase{Event: ev.Source + " " + ev.ID, Type: ev.Type, ReceivedAt: ev.ReceivedAt.UTC(), Would: []ReplayMessage{}, Live: []ReplayMessage{}}
		cases["event:"+k] = c
	}
	for _, in := range res.Instances {
		c, ok := cases[in.Trigger]
		if !ok {
			continue
		}
		c.ShadowStatus = in.Status
		byInstance[in.ID] = c
		for _, sup := range in.Suppressed {
			at := rep.Since.Add(sup.Offset)
			c.Would = append(c.Would, ReplayMessage{Call: sup.Call, After: FormatOffset(at.Sub(c.ReceivedAt)), To: strings.Join(sup.To, ", "), Status: store.MessageSuppressed, Reason: sup.Reason})
			rep.WouldSuppress[sup.Call]++
		}
	}
	for _, call := range res.Calls {
		c, ok := byInstance[call.Instance]
		if !ok {
			continue
		}
		at := rep.Since.Add(call.Offset)
		args, _ := call.Args.(map[string]any)
		m := ReplayMessage{Call: call.Call, After: FormatOffset(at.Sub(c.ReceivedAt)), Status: store.MessageSent}
		var to []string
		for _, r := range list(args["to"]) {
			to = append(to, fmt.Sprint(r))
		}
		m.To = strings.Join(to, ", ")
		m.Template, _ = args["template"].(string)
		m.Subject, _ = args["subject"].(string)
		c.Would = append(c.Would, m)
		rep.WouldSend[call.Call]++
	}

	// The live side: the instances the sampled events started, and the
	// messages the live message log holds of them.
	doc := wf.Document
	q := store.InstanceQuery{Namespace: doc.Namespace, Name: doc.Name, Since: rep.Since.Add(-time.Minute), Limit: 1000}
	for {
		page, err := live.ListInstances(ctx, q)
		if err != nil {
			return fmt.Errorf("read the live instances: %w", err)
		}
		for _, in := range page {
			c, ok := cases[in.TriggerKey]
			if !ok || c.LiveInstance != nil {
				continue
			}
			c.LiveInstance = &ReplayLiveState{ID: in.ID, Version: in.Version, Status: in.Status}
			msgs, err := live.ListMessages(ctx, store.MessageQuery{Instance: in.ID, Limit: 1000})
			if err != nil {
				return fmt.Errorf("read the live message log: %w", err)
			}
			slices.Reverse(msgs) // oldest first
			for _, m := range msgs {
				call := map[string]string{"email": "email.send", "sms": "sms.send"}[m.Channel]
				if call == "" {
					call = m.Channel
				}
				c.Live = append(c.Live, ReplayMessage{Call: call, After: FormatOffset(m.At.Sub(c.ReceivedAt)), To: m.Address, Template: m.Template,
					Subject: m.Subject, Status: m.Status, Reason: m.Reason})
				switch m.Status {
				case store.MessageSent:
					rep.LiveSent[call]++
				case store.MessageSuppressed:
					rep.LiveSuppressed[call]++
				}
			}
		}
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].ID
	}
	for _, k := range keys {
		c := cases["event:"+k]
		sortMessages(c.Would)
		rep.Cases = append(rep.Cases, *c)
	}
	return nil
}

// sortMessages orders messages by their time after the event.
func sortMessages(ms []ReplayMessage) {
	slices.SortStableFunc(ms, func(a, b ReplayMessage) int {
		da, _ := parseDuration(a.After)
		db, _ := parseDuration(b.After)
		return int((da - db) / time.Millisecond)
	})
}
