package user_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
	"github.com/storeflow/storeflow/user"
)

// cheap keeps the tests quick; DefaultKDF is tested once below.
var cheap = user.KDF{Time: 1, Memory: 1024, Threads: 1}

func directory(t *testing.T) (*user.Directory, *time.Time) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	d := &user.Directory{Store: st, KDF: cheap, Now: func() time.Time { return now },
		ShopExists: func(ctx context.Context, id string) error {
			if id == "acme" || id == "beta" {
				return nil
			}
			return store.ErrNotFound
		}}
	return d, &now
}

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		kdf      user.KDF
		password string
		try      string
		ok       bool
	}{
		{"right password, default cost", user.DefaultKDF, "correct horse battery", "correct horse battery", true},
		{"wrong password", cheap, "correct horse battery", "correct horse battery!", false},
		{"empty try", cheap, "correct horse battery", "", false},
		{"unicode", cheap, "pässwörd-ünïcode", "pässwörd-ünïcode", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := tc.kdf.Hash(tc.password)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(h, "$argon2id$v=19$"), h)
			if tc.kdf == user.DefaultKDF {
				require.Contains(t, h, "$m=65536,t=3,p=2$", "the cost is written into the hash")
			}
			ok, err := user.Verify(h, tc.try)
			require.NoError(t, err)
			require.Equal(t, tc.ok, ok)
		})
	}
	a, _ := cheap.Hash("same password")
	b, _ := cheap.Hash("same password")
	require.NotEqual(t, a, b, "every hash has its own salt")
}

func TestVerifyRefusesWhatIsNoHash(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"", "plain", "$2a$10$bcrypt", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdA$a2V5",
		"$argon2id$v=18$m=1024,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=1024,t=0,p=1$c2FsdA$a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=1024,t=1,p=1$!!$a2V5"} {
		ok, err := user.Verify(h, "x")
		require.Error(t, err, h)
		require.False(t, ok)
	}
}

func TestAddValidates(t *testing.T) {
	t.Parallel()
	d, _ := directory(t)
	ctx := context.Background()
	tests := []struct {
		name string
		u    user.User
		want []string // problems, by a part of each
	}{
		{"fine", user.User{ID: "Alice", Name: "Alice", Password: "long enough password", Roles: map[string][]string{"acme": {"sales-manager", "Admin"}}}, nil},
		{"custom role", user.User{ID: "pat", Roles: map[string][]string{"acme": {"returns-desk"}}}, nil},
		{"bad id", user.User{ID: "-x y", Roles: map[string][]string{}}, []string{"id \"-x y\""}},
		{"short password", user.User{ID: "bob", Password: "short"}, []string{"at least 10"}},
		{"bad role", user.User{ID: "bob", Roles: map[string][]string{"acme": {"Sales Manager"}}}, []string{"role \"sales manager\""}},
		{"unknown shop", user.User{ID: "bob", Roles: map[string][]string{"nowhere": {"admin"}}}, []string{"no shop \"nowhere\""}},
		{"shop without roles", user.User{ID: "bob", Roles: map[string][]string{"acme": {}}}, []string{"at least one role"}},
		{"bad email", user.User{ID: "bob", Email: "bob"}, []string{"not an address"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.Add(ctx, tc.u)
			if tc.want == nil {
				require.NoError(t, err)
				require.Equal(t, strings.ToLower(tc.u.ID), got.ID)
				require.Empty(t, got.Password, "a password is never shown")
				require.Equal(t, tc.u.Password != "", got.HasPassword)
				return
			}
			var inv *user.ErrInvalid
			require.ErrorAs(t, err, &inv)
			require.Len(t, inv.Problems, len(tc.want))
			for i, w := range tc.want {
				require.Contains(t, inv.Problems[i], w)
			}
		})
	}
	alice, err := d.Get(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, map[string][]string{"acme": {"admin", "sales-manager"}}, alice.Roles, "roles are lower-cased and sorted")
	require.True(t, alice.Admin("acme"))
	require.False(t, alice.Admin("beta"))
	_, err = d.Add(ctx, user.User{ID: "alice"})
	require.ErrorIs(t, err, store.ErrUserExists)
	roles, err := d.Roles(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, append(append([]string{}, user.BuiltinRoles...), "returns-desk"), roles, "built-in roles, then the shop's own")
}

func TestLogin(t *testing.T) {
	t.Parallel()
	d, now := directory(t)
	ctx := context.Background()
	_, err := d.Add(ctx, user.User{ID: "alice", Password: "long enough password", Roles: map[string][]string{"acme": {"operator"}}})
	require.NoError(t, err)
	_, err = d.Add(ctx, user.User{ID: "nopass", Roles: map[string][]string{"acme": {"operator"}}})
	require.NoError(t, err)

	for _, bad := range [][2]string{{"alice", "wrong password!"}, {"nobody", "long enough password"}, {"nopass", ""}} {
		_, _, err := d.Login(ctx, bad[0], bad[1])
		require.ErrorIs(t, err, user.ErrLogin, bad)
	}
	token, expires, err := d.Login(ctx, "Alice", "long enough password")
	require.NoError(t, err)
	require.True(t, user.IsToken(token))
	require.Equal(t, now.Add(user.DefaultSessionTTL), expires)
	u, err := d.Authenticate(ctx, token)
	require.NoError(t, err)
	require.Equal(t, "alice", u.ID)
	require.True(t, u.Has("acme", "operator"))
	_, err = d.Authenticate(ctx, token+"x")
	require.ErrorIs(t, err, user.ErrLogin)
	_, err = d.Authenticate(ctx, "not-a-token")
	require.ErrorIs(t, err, user.ErrLogin)

	// A role taken away is gone at the next call: tokens carry no roles.
	_, err = d.Update(ctx, user.User{ID: "alice", Roles: map[string][]string{"acme": {"support"}}})
	require.NoError(t, err)
	u, err = d.Authenticate(ctx, token)
	require.NoError(t, err)
	require.False(t, u.Has("acme", "operator"))
	require.True(t, u.HasPassword, "an update without a password keeps it")

	// A new password ends every login.
	_, err = d.Update(ctx, user.User{ID: "alice", Password: "another long password", Roles: map[string][]string{"acme": {"support"}}})
	require.NoError(t, err)
	_, err = d.Authenticate(ctx, token)
	require.ErrorIs(t, err, user.ErrLogin)
	_, _, err = d.Login(ctx, "alice", "long enough password")
	require.ErrorIs(t, err, user.ErrLogin)

	token, _, err = d.Login(ctx, "alice", "another long password")
	require.NoError(t, err)
	*now = now.Add(user.DefaultSessionTTL)
	_, err = d.Authenticate(ctx, token)
	require.ErrorIs(t, err, user.ErrLogin, "a login expires")

	*now = now.Add(-time.Hour)
	require.NoError(t, d.Logout(ctx, token))
	_, err = d.Authenticate(ctx, token)
	require.ErrorIs(t, err, user.ErrLogin, "logged out")

	token, _, err = d.Login(ctx, "alice", "another long password")
	require.NoError(t, err)
	require.NoError(t, d.Remove(ctx, "alice"))
	_, err = d.Authenticate(ctx, token)
	require.ErrorIs(t, err, user.ErrLogin, "a removed user's token lets nobody in")
}
