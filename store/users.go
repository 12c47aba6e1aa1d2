package store

import (
	"context"
	"errors"
	"time"
)

// ErrUserExists means a user of that id exists already.
var ErrUserExists = errors.New("user exists")

// UserRecord is a person who answers tasks, with the roles they hold in
// each shop (package user makes and checks them).
type UserRecord struct {
	ID    string
	Name  string
	Email string
	// PasswordHash is the password in the KDF's PHC string form
	// ($argon2id$v=19$…); empty for a user who cannot log in.
	PasswordHash string
	Roles        []UserRole // by shop, then role
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// UserRole is a role a user holds in a shop.
type UserRole struct {
	Shop string
	Role string
}

// Session is a login: the hash of the token a user was given, so that a
// copy of the database lets nobody in.
type Session struct {
	TokenHash string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Users keeps users, their roles per shop and their sessions.
type Users interface {
	// PutUser stores a user with its roles: a new one when create
	// (ErrUserExists when the id is taken), else it replaces the stored
	// one, roles and all (ErrNotFound when there is none).
	PutUser(ctx context.Context, u UserRecord, create bool) error
	GetUser(ctx context.Context, id string) (UserRecord, error)
	// ListUsers returns users by id; with a shop, those holding a role in
	// it.
	ListUsers(ctx context.Context, shop string) ([]UserRecord, error)
	// DeleteUser removes a user with its roles and sessions (ErrNotFound
	// when there is none).
	DeleteUser(ctx context.Context, id string) error
	// ShopRoles lists the roles users hold in a shop, by name.
	ShopRoles(ctx context.Context, shop string) ([]string, error)
	// PutSession stores a session, and drops the user's expired ones.
	PutSession(ctx context.Context, s Session) error
	// Session returns the session of a token hash that has not expired by
	// now; ErrNotFound otherwise.
	Session(ctx context.Context, tokenHash string, now time.Time) (Session, error)
	// DeleteSessions ends sessions: the one of tokenHash, or, with an
	// empty hash, every session of userID.
	DeleteSessions(ctx context.Context, userID, tokenHash string) error
}
