package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storeflow/storeflow/store"
)

var _ store.Notifier = (*Store)(nil)

// notify queues a notification that PostgreSQL delivers when (and only if)
// the transaction commits.
func (s *Store) notify(ctx context.Context, q querier, topic string) error {
	if _, err := q.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, topic); err != nil {
		return fmt.Errorf("notify %s: %w", topic, err)
	}
	return nil
}

// Listen reports the topics other nodes notify, on a connection of its own;
// when that connection breaks (PostgreSQL restarted, backend terminated) it
// reconnects with backoff and reports TopicResync.
func (s *Store) Listen(ctx context.Context, fn func(topic string)) error {
	backoff := 100 * time.Millisecond
	for first := true; ; first = false {
		err := s.listenOnce(ctx, fn, !first)
		if ctx.Err() != nil {
			return nil
		}
		slog.Warn("lost the PostgreSQL notification connection; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, fn func(topic string), resync bool) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	if resync {
		fn(store.TopicResync)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}
