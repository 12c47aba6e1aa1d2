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
// once it listens, and whenever its connection broke (PostgreSQL restarted,
// backend terminated) and it reconnected, it reports TopicResync.
func (s *Store) Listen(ctx context.Context, fn func(topic string)) error {
	backoff := 100 * time.Millisecond
	for {
		err := s.listenOnce(ctx, fn)
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

func (s *Store) listenOnce(ctx context.Context, fn func(topic string)) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	// Whatever happened before LISTEN took effect (on first connect as on
	// reconnect) was not heard: the caller catches up.
	fn(store.TopicResync)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}
