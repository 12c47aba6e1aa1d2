package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := store.UserRecord{ID: "alice", Name: "Alice", Email: "alice@acme.example", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		Roles: []store.UserRole{{Shop: "acme", Role: "admin"}, {Shop: "acme", Role: "sales-manager"}, {Shop: "beta", Role: "support"}}, CreatedAt: t0, UpdatedAt: t0}
	bob := store.UserRecord{ID: "bob", Name: "Bob", Roles: []store.UserRole{{Shop: "acme", Role: "warehouse"}}, CreatedAt: t0, UpdatedAt: t0}
	carol := store.UserRecord{ID: "carol", Name: "Carol", CreatedAt: t0, UpdatedAt: t0}
	for _, u := range []store.UserRecord{alice, bob, carol} {
		require.NoError(t, s.PutUser(ctx, u, true))
	}
	require.ErrorIs(t, s.PutUser(ctx, bob, true), store.ErrUserExists)
	missing := carol
	missing.ID = "nobody"
	require.ErrorIs(t, s.PutUser(ctx, missing, false), store.ErrNotFound)

	got, err := s.GetUser(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, alice, got, "a user comes back with its roles, by shop and role")
	_, err = s.GetUser(ctx, "nobody")
	require.ErrorIs(t, err, store.ErrNotFound)

	ids := func(shop string) []string {
		list, err := s.ListUsers(ctx, shop)
		require.NoError(t, err)
		var out []string
		for _, u := range list {
			out = append(out, u.ID)
		}
		return out
	}
	require.Equal(t, []string{"alice", "bob", "carol"}, ids(""))
	require.Equal(t, []string{"alice", "bob"}, ids("acme"))
	require.Equal(t, []string{"alice"}, ids("beta"))
	list, err := s.ListUsers(ctx, "beta")
	require.NoError(t, err)
	require.Equal(t, alice.Roles, list[0].Roles, "a listed user has all its roles, of every shop")

	roles, err := s.ShopRoles(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, []string{"admin", "sales-manager", "warehouse"}, roles)

	// An update replaces the roles.
	bob.Roles = []store.UserRole{{Shop: "beta", Role: "support"}, {Shop: "beta", Role: "packer"}}
	bob.Email, bob.UpdatedAt = "bob@acme.example", t0.Add(time.Hour)
	require.NoError(t, s.PutUser(ctx, bob, false))
	got, err = s.GetUser(ctx, "bob")
	require.NoError(t, err)
	require.Equal(t, "bob@acme.example", got.Email)
	require.Equal(t, t0, got.CreatedAt, "an update keeps the creation time")
	require.Equal(t, []store.UserRole{{Shop: "beta", Role: "packer"}, {Shop: "beta", Role: "support"}}, got.Roles)
	roles, err = s.ShopRoles(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, []string{"admin", "sales-manager"}, roles, "bob's warehouse role in acme is gone")

	// Sessions: found by hash until they expire; ended one by one or all.
	for i, h := range []string{"h1", "h2"} {
		require.NoError(t, s.PutSession(ctx, store.Session{TokenHash: h, UserID: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Duration(i+1) * time.Hour)}))
	}
	require.NoError(t, s.PutSession(ctx, store.Session{TokenHash: "b1", UserID: "bob", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	sess, err := s.Session(ctx, "h1", t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, store.Session{TokenHash: "h1", UserID: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}, sess)
	_, err = s.Session(ctx, "h1", t0.Add(time.Hour))
	require.ErrorIs(t, err, store.ErrNotFound, "an expired session lets nobody in")
	_, err = s.Session(ctx, "nope", t0)
	require.ErrorIs(t, err, store.ErrNotFound)
	// A new login drops the user's expired sessions.
	require.NoError(t, s.PutSession(ctx, store.Session{TokenHash: "h3", UserID: "alice", CreatedAt: t0.Add(90 * time.Minute), ExpiresAt: t0.Add(5 * time.Hour)}))
	_, err = s.Session(ctx, "h1", t0)
	require.ErrorIs(t, err, store.ErrNotFound, "h1 had expired when h3 was made")
	require.NoError(t, s.DeleteSessions(ctx, "alice", "h2"))
	_, err = s.Session(ctx, "h2", t0)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Session(ctx, "h3", t0)
	require.NoError(t, err)
	require.NoError(t, s.DeleteSessions(ctx, "alice", ""))
	_, err = s.Session(ctx, "h3", t0)
	require.ErrorIs(t, err, store.ErrNotFound)

	// Removing a user removes its roles and sessions.
	require.NoError(t, s.DeleteUser(ctx, "bob"))
	require.ErrorIs(t, s.DeleteUser(ctx, "bob"), store.ErrNotFound)
	_, err = s.Session(ctx, "b1", t0)
	require.ErrorIs(t, err, store.ErrNotFound)
	roles, err = s.ShopRoles(ctx, "beta")
	require.NoError(t, err)
	require.Equal(t, []string{"support"}, roles, "only alice's role in beta is left")
	require.NoError(t, s.PutUser(ctx, store.UserRecord{ID: "bob", CreatedAt: t0, UpdatedAt: t0}, true), "the id is free again")
	got, err = s.GetUser(ctx, "bob")
	require.NoError(t, err)
	require.Empty(t, got.Roles, "a new bob does not inherit the old one's roles")
}
