// Package user holds the people who answer approval tasks: who they are,
// the roles they hold in each shop (admin, operator, support, warehouse,
// sales-manager, or a shop's own), their passwords, hashed with argon2id,
// and the logins that let them call the task API.
package user

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/storeflow/storeflow/store"
)

// The built-in roles. A shop may have roles of its own besides: any name
// a user is given is a role of that shop.
const (
	RoleAdmin        = "admin" // sees and acts on every task of the shop
	RoleOperator     = "operator"
	RoleSupport      = "support"
	RoleWarehouse    = "warehouse"
	RoleSalesManager = "sales-manager"
)

// BuiltinRoles are the roles every shop has.
var BuiltinRoles = []string{RoleAdmin, RoleOperator, RoleSupport, RoleWarehouse, RoleSalesManager}

// User is a person, as the API shows and takes them.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	// Password is only ever read (to set it), never shown.
	Password string `json:"password,omitempty"`
	// Roles are the roles the user holds, by shop id.
	Roles       map[string][]string `json:"roles"`
	HasPassword bool                `json:"hasPassword"`
	CreatedAt   time.Time           `json:"createdAt,omitzero"`
	UpdatedAt   time.Time           `json:"updatedAt,omitzero"`
}

// Has reports whether the user holds role in shop.
func (u *User) Has(shop, role string) bool {
	return u != nil && slices.Contains(u.Roles[shop], role)
}

// Admin reports whether the user is an admin of shop.
func (u *User) Admin(shop string) bool { return u.Has(shop, RoleAdmin) }

// ErrInvalid wraps the problems Validate found.
type ErrInvalid struct{ Problems []string }

func (e *ErrInvalid) Error() string { return "invalid user: " + strings.Join(e.Problems, "; ") }

var (
	idRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)
	roleRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)
	shopRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
)

// MinPassword is the shortest password taken.
const MinPassword = 10

// ValidRole reports whether a role name is well formed.
func ValidRole(r string) bool { return roleRe.MatchString(r) }

// normalize trims and sorts what it can.
func (u *User) normalize() {
	u.ID = strings.ToLower(strings.TrimSpace(u.ID))
	u.Name, u.Email = strings.TrimSpace(u.Name), strings.TrimSpace(u.Email)
	roles := map[string][]string{}
	for shop, list := range u.Roles {
		shop = strings.TrimSpace(shop)
		if roles[shop] == nil {
			roles[shop] = []string{}
		}
		for _, r := range list {
			if r = strings.ToLower(strings.TrimSpace(r)); !slices.Contains(roles[shop], r) {
				roles[shop] = append(roles[shop], r)
			}
		}
		slices.Sort(roles[shop])
	}
	u.Roles = roles
}

// validate lists what is wrong with a user, each problem naming its field.
func (u *User) validate(passwordRequired bool) []string {
	var errs []string
	if !idRe.MatchString(u.ID) {
		errs = append(errs, fmt.Sprintf("id %q: lower-case letters, digits, '.', '_', '-' and '@', starting with a letter or digit, at most 64", u.ID))
	}
	if u.Email != "" && !strings.Contains(u.Email, "@") {
		errs = append(errs, fmt.Sprintf("email %q is not an address", u.Email))
	}
	switch {
	case u.Password == "" && passwordRequired:
		errs = append(errs, "password is required")
	case u.Password != "" && len([]rune(u.Password)) < MinPassword:
		errs = append(errs, fmt.Sprintf("password: at least %d characters", MinPassword))
	}
	for _, shop := range slices.Sorted(maps.Keys(u.Roles)) {
		if !shopRe.MatchString(shop) {
			errs = append(errs, fmt.Sprintf("roles: %q is not a shop id", shop))
		}
		if len(u.Roles[shop]) == 0 {
			errs = append(errs, fmt.Sprintf("roles.%s: give at least one role, or leave the shop out", shop))
		}
		for _, r := range u.Roles[shop] {
			if !ValidRole(r) {
				errs = append(errs, fmt.Sprintf("roles.%s: role %q: lower-case letters, digits and dashes, starting with a letter (built in: %s)", shop, r, strings.Join(BuiltinRoles, ", ")))
			}
		}
	}
	return errs
}

func fromRecord(r store.UserRecord) User {
	u := User{ID: r.ID, Name: r.Name, Email: r.Email, Roles: map[string][]string{}, HasPassword: r.PasswordHash != "", CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	for _, role := range r.Roles {
		u.Roles[role.Shop] = append(u.Roles[role.Shop], role.Role)
	}
	return u
}

func (u *User) record(hash string) store.UserRecord {
	r := store.UserRecord{ID: u.ID, Name: u.Name, Email: u.Email, PasswordHash: hash, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	for _, shop := range slices.Sorted(maps.Keys(u.Roles)) {
		for _, role := range u.Roles[shop] {
			r.Roles = append(r.Roles, store.UserRole{Shop: shop, Role: role})
		}
	}
	return r
}

// ErrLogin is a login or token that lets nobody in. It does not say
// whether the user exists.
var ErrLogin = errors.New("unknown user or wrong password")

// DefaultSessionTTL is how long a login's token lasts.
const DefaultSessionTTL = 12 * time.Hour

// TokenPrefix starts every login token, so that it cannot be taken for an
// API token.
const TokenPrefix = "sfu_"

// Directory keeps users: it validates them, hashes their passwords, and
// logs them in.
type Directory struct {
	Store store.Users
	// KDF is the cost of new password hashes; zero: DefaultKDF.
	KDF KDF
	// Now is the time (time.Now when nil).
	Now func() time.Time
	// ShopExists, when set, refuses roles in shops that do not exist.
	ShopExists func(ctx context.Context, id string) error
	// SessionTTL is how long a login lasts; zero: DefaultSessionTTL.
	SessionTTL time.Duration

	dummyOnce sync.Once
	dummy     string
}

func (d *Directory) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Directory) check(ctx context.Context, u *User, passwordRequired bool) error {
	u.normalize()
	errs := u.validate(passwordRequired)
	if d.ShopExists != nil {
		for _, shop := range slices.Sorted(maps.Keys(u.Roles)) {
			if shopRe.MatchString(shop) {
				if err := d.ShopExists(ctx, shop); errors.Is(err, store.ErrNotFound) {
					errs = append(errs, fmt.Sprintf("roles: there is no shop %q (add it first: storeflow shop add)", shop))
				} else if err != nil {
					return err
				}
			}
		}
	}
	if len(errs) > 0 {
		return &ErrInvalid{Problems: errs}
	}
	return nil
}

// Add creates a user. It fails with *ErrInvalid, or store.ErrUserExists.
// A user without a password cannot log in (pretests act as such users).
func (d *Directory) Add(ctx context.Context, u User) (User, error) {
	if err := d.check(ctx, &u, false); err != nil {
		return User{}, err
	}
	hash, err := d.hash(u.Password)
	if err != nil {
		return User{}, err
	}
	u.CreatedAt, u.UpdatedAt = d.now(), d.now()
	if err := d.Store.PutUser(ctx, u.record(hash), true); err != nil {
		return User{}, err
	}
	return d.Get(ctx, u.ID)
}

// Update replaces a user's name, email and roles; an empty password keeps
// the stored one, a new one ends the user's sessions.
func (d *Directory) Update(ctx context.Context, u User) (User, error) {
	if err := d.check(ctx, &u, false); err != nil {
		return User{}, err
	}
	old, err := d.Store.GetUser(ctx, u.ID)
	if err != nil {
		return User{}, err
	}
	hash := old.PasswordHash
	if u.Password != "" {
		if hash, err = d.hash(u.Password); err != nil {
			return User{}, err
		}
	}
	u.CreatedAt, u.UpdatedAt = old.CreatedAt, d.now()
	if err := d.Store.PutUser(ctx, u.record(hash), false); err != nil {
		return User{}, err
	}
	if u.Password != "" {
		if err := d.Store.DeleteSessions(ctx, u.ID, ""); err != nil {
			return User{}, err
		}
	}
	return d.Get(ctx, u.ID)
}

func (d *Directory) hash(password string) (string, error) {
	if password == "" {
		return "", nil
	}
	return d.KDF.Hash(password)
}

// Get returns a user.
func (d *Directory) Get(ctx context.Context, id string) (User, error) {
	r, err := d.Store.GetUser(ctx, strings.ToLower(strings.TrimSpace(id)))
	if err != nil {
		return User{}, err
	}
	return fromRecord(r), nil
}

// List returns users by id; with a shop, those holding a role in it.
func (d *Directory) List(ctx context.Context, shop string) ([]User, error) {
	list, err := d.Store.ListUsers(ctx, shop)
	if err != nil {
		return nil, err
	}
	out := make([]User, len(list))
	for i, r := range list {
		out[i] = fromRecord(r)
	}
	return out, nil
}

// Remove deletes a user with its roles and logins. The history of the
// tasks they acted on keeps their id.
func (d *Directory) Remove(ctx context.Context, id string) error {
	return d.Store.DeleteUser(ctx, strings.ToLower(strings.TrimSpace(id)))
}

// Roles lists the roles that exist in a shop: the built-in ones and every
// role a user holds there.
func (d *Directory) Roles(ctx context.Context, shop string) ([]string, error) {
	held, err := d.Store.ShopRoles(ctx, shop)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(BuiltinRoles)
	for _, r := range held {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// dummyHash is verified against when the user is unknown, so that a
// login takes as long for a user that does not exist. It is made on the
// first login, not when a program starts.
func (d *Directory) dummyHash() string {
	d.dummyOnce.Do(func() { d.dummy, _ = d.KDF.Hash("storeflow dummy password") })
	return d.dummy
}

// Login checks a user's password and returns a new token for the task API,
// valid until expires. A wrong password and an unknown user are both
// ErrLogin.
func (d *Directory) Login(ctx context.Context, id, password string) (token string, expires time.Time, err error) {
	r, err := d.Store.GetUser(ctx, strings.ToLower(strings.TrimSpace(id)))
	if errors.Is(err, store.ErrNotFound) || err == nil && r.PasswordHash == "" {
		_, _ = Verify(d.dummyHash(), password)
		return "", time.Time{}, ErrLogin
	}
	if err != nil {
		return "", time.Time{}, err
	}
	ok, err := Verify(r.PasswordHash, password)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("user %s: stored password: %w", r.ID, err)
	}
	if !ok {
		return "", time.Time{}, ErrLogin
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", time.Time{}, err
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	ttl := d.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	now := d.now()
	expires = now.Add(ttl)
	if err := d.Store.PutSession(ctx, store.Session{TokenHash: tokenHash(token), UserID: r.ID, CreatedAt: now, ExpiresAt: expires}); err != nil {
		return "", time.Time{}, err
	}
	return token, expires, nil
}

// tokenHash is what the store keeps of a token: tokens are random, so a
// plain hash is enough.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Authenticate returns the user a login token belongs to, or ErrLogin.
func (d *Directory) Authenticate(ctx context.Context, token string) (User, error) {
	if !strings.HasPrefix(token, TokenPrefix) {
		return User{}, ErrLogin
	}
	sess, err := d.Store.Session(ctx, tokenHash(token), d.now())
	if errors.Is(err, store.ErrNotFound) {
		return User{}, ErrLogin
	}
	if err != nil {
		return User{}, err
	}
	u, err := d.Get(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return User{}, ErrLogin
	}
	return u, err
}

// Logout ends the login of a token.
func (d *Directory) Logout(ctx context.Context, token string) error {
	return d.Store.DeleteSessions(ctx, "", tokenHash(token))
}

// IsToken reports whether s has the form of a login token.
func IsToken(s string) bool { return strings.HasPrefix(s, TokenPrefix) }
