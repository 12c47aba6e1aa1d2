package customer

import (
	"context"
	"sort"
	"time"

	"github.com/storeflow/storeflow/store"
)

// Message is a message sent to a customer, or suppressed, as the profile
// API shows it.
type Message struct {
	ID       string    `json:"id"`
	Channel  string    `json:"channel"`
	Address  string    `json:"address"`
	Workflow string    `json:"workflow,omitempty"`
	Instance string    `json:"instance,omitempty"`
	Task     string    `json:"task,omitempty"`
	Template string    `json:"template,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	Category string    `json:"category,omitempty"`
	Status   string    `json:"status"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
}

// MessagesFrom lists a customer's messages from the sending rules' message
// log: those to every address of the profile, newest first.
func MessagesFrom(log store.MessageLog) Messages {
	return func(ctx context.Context, p *Profile, limit int) (any, error) {
		out := []Message{}
		addresses := append(append([]string{}, p.Emails...), p.Phones...)
		for _, a := range addresses {
			ms, err := log.ListMessages(ctx, store.MessageQuery{Shop: p.Shop, Address: a, Limit: limit})
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				out = append(out, Message{ID: m.ID, Channel: m.Channel, Address: m.Address, Workflow: m.Workflow, Instance: m.Instance, Task: m.Task,
					Template: m.Template, Subject: m.Subject, Category: m.Category, Status: m.Status, Reason: m.Reason, At: m.At})
			}
		}
		// IDs are time-ordered.
		sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
		if len(out) > limit {
			out = out[:limit]
		}
		return out, nil
	}
}
